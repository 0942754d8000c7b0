"""Operators' analytics API: totals over a window and hour-by-hour series."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from switchboard.common.errors import BadRequest
from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.metrics.analytics.counting import Metric
from switchboard.metrics.analytics.schemas import AnalyticsSummary, HourlySeries
from switchboard.metrics.analytics.service import rollups
from switchboard.metrics.config import MetricsSettings
from switchboard.metrics.periods import Window, analytics_window

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

AnalyticsWindow = Annotated[Window, Depends(analytics_window)]


@router.get("/summary", response_model=AnalyticsSummary)
async def get_summary(
    principal: CurrentPrincipal, session: DbSession, window: AnalyticsWindow
) -> AnalyticsSummary:
    """Every metric's total, split by dimension, over `[from, to)`; by default the last 24h."""
    principal.require("messages:read")
    metrics = await rollups.summary(session, principal.tenant(), window)
    return AnalyticsSummary(from_=window.start, to=window.end, metrics=metrics)


@router.get("/hourly", response_model=HourlySeries)
async def get_hourly(
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    metric: Metric,
    window: AnalyticsWindow,
    dimension: Annotated[str | None, Query(max_length=200)] = None,
) -> HourlySeries:
    """One metric hour by hour over `[from, to)`; hours without activity are left out."""
    principal.require("messages:read")
    settings: MetricsSettings = request.app.state.settings
    if window.end - window.start > timedelta(days=settings.hourly_max_days):
        raise BadRequest(f"Ask for at most {settings.hourly_max_days} days of hourly data.")
    points = await rollups.hourly(session, principal.tenant(), metric, window, dimension)
    return HourlySeries(metric=metric, from_=window.start, to=window.end, points=points)
