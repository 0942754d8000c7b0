"""Metrics' HTTP app: per-tenant analytics from the hourly rollups."""

from __future__ import annotations

from fastapi import FastAPI

from switchboard.common.http import create_app as create_service_app
from switchboard.common.runtime import replica_lifespan
from switchboard.common.settings import PlatformSettings
from switchboard.metrics.analytics.endpoints import router as analytics
from switchboard.metrics.config import MetricsSettings


def create_app(
    settings: MetricsSettings | None = None, platform: PlatformSettings | None = None
) -> FastAPI:
    platform = platform or PlatformSettings()
    settings = settings or MetricsSettings()

    return create_service_app(
        service="metrics",
        platform=platform,
        title="Switchboard metrics",
        description="Per-tenant analytics: messages, delivery, opt-outs, LLM tokens and cost.",
        lifespan=replica_lifespan("metrics", platform, settings),
        routers=[analytics],
    )
