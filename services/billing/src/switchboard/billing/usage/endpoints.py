"""Operators' usage API: totals for a period, broken down by day, channel, campaign or contact,
and the ledger rows behind them (as JSON pages, or the whole period as a CSV file)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from switchboard.billing.periods import Period, as_utc, billing_period
from switchboard.billing.quotas.schemas import E164
from switchboard.billing.usage.schemas import (
    Grouping,
    LedgerEntryRead,
    UsageBreakdown,
    UsageSummary,
)
from switchboard.billing.usage.service import LedgerFilter, usage_ledger
from switchboard.common.db import Database
from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.contracts import UsageKind

router = APIRouter(prefix="/v1/usage", tags=["usage"])


def ledger_filter(
    contact_address: Annotated[
        str | None, Query(pattern=E164, description="Only this end user's usage (E.164).")
    ] = None,
    campaign_id: Annotated[UUID | None, Query(description="Only this campaign's usage.")] = None,
) -> LedgerFilter:
    return LedgerFilter(contact_address=contact_address, campaign_id=campaign_id)


@router.get("", response_model=UsageSummary)
async def get_usage(
    principal: CurrentPrincipal,
    session: DbSession,
    period: Annotated[Period, Depends(billing_period)],
) -> UsageSummary:
    """Quantity and cost per usage kind in `[from, to)`; by default the month so far."""
    principal.require("messages:read")
    totals = await usage_ledger.totals(session, principal.tenant(), period)
    return UsageSummary(from_=period.start, to=period.end, totals=totals)


@router.get("/breakdown", response_model=UsageBreakdown, response_model_exclude_unset=True)
async def get_breakdown(
    principal: CurrentPrincipal,
    session: DbSession,
    period: Annotated[Period, Depends(billing_period)],
    only: Annotated[LedgerFilter, Depends(ledger_filter)],
    group_by: Annotated[
        list[Grouping],
        Query(
            min_length=1,
            description="Group by these, in this order (repeat the parameter): `day` (UTC), "
            "`channel`, `campaign`, `kind`, `contact`. Rows are per kind and currency anyway.",
        ),
    ] = ["day"],  # noqa: B006 - FastAPI copies a default list per request
) -> UsageBreakdown:
    """Quantity and cost in `[from, to)` (by default the month so far) per group, each row
    carrying only the keys grouped by (null: none, e.g. usage of no campaign)."""
    principal.require("messages:read")
    groupings = list(dict.fromkeys(group_by))
    rows = await usage_ledger.breakdown(session, principal.tenant(), period, groupings, only)
    return UsageBreakdown(from_=period.start, to=period.end, group_by=groupings, rows=rows)


@router.get(
    "/ledger.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The ledger rows, as CSV."}},
)
async def export_ledger(
    request: Request,
    principal: CurrentPrincipal,
    period: Annotated[Period, Depends(billing_period)],
    only: Annotated[LedgerFilter, Depends(ledger_filter)],
) -> StreamingResponse:
    """The tenant's billable facts in `[from, to)` (by default the month so far), oldest first,
    as a CSV file with a header row, streamed as the database reads them."""
    principal.require("messages:read")
    db: Database = request.app.state.db
    lines = usage_ledger.export_csv(db, principal.tenant(), period, only)
    name = f"usage-{_stamp(period.start)}-{_stamp(period.end)}.csv"
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/ledger", response_model=list[LedgerEntryRead])
async def list_ledger(
    principal: CurrentPrincipal,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[datetime | None, Query(description="Only entries older than this.")] = None,
    kind: UsageKind | None = None,
) -> list[LedgerEntryRead]:
    """The tenant's billable facts, newest first."""
    principal.require("messages:read")
    entries = await usage_ledger.entries(
        session,
        principal.tenant(),
        limit=limit,
        before=as_utc(before) if before is not None else None,
        kind=kind,
    )
    return [LedgerEntryRead.model_validate(e, from_attributes=True) for e in entries]


def _stamp(moment: datetime) -> str:
    """A period's bound in a file name: its date at midnight (UTC), else date and time."""
    if moment.time() == time(0):
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%dT%H%M%SZ}"
