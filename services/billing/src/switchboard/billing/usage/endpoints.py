"""Operators' usage API: totals for a period and the ledger rows behind them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from switchboard.billing.periods import Period, as_utc, billing_period
from switchboard.billing.usage.schemas import LedgerEntryRead, UsageSummary
from switchboard.billing.usage.service import usage_ledger
from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.contracts import UsageKind

router = APIRouter(prefix="/v1/usage", tags=["usage"])


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
