"""Plans API: what subscriptions can include and cost."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from switchboard.billing.plans.schemas import PlanId, PlanRead, PlanWrite
from switchboard.billing.plans.service import plan_service
from switchboard.common.http import CurrentPrincipal, DbSession

router = APIRouter(prefix="/v1/plans", tags=["plans"])


@router.get("", response_model=list[PlanRead])
async def list_plans(principal: CurrentPrincipal, session: DbSession) -> list[PlanRead]:
    """The plans on offer, cheapest first (the platform admin also sees retired ones)."""
    plans = await plan_service.list(session, active_only=not principal.is_platform_admin)
    return [PlanRead.model_validate(plan) for plan in plans]


@router.get("/{plan_id}", response_model=PlanRead)
async def get_plan(plan_id: str, principal: CurrentPrincipal, session: DbSession) -> PlanRead:
    return PlanRead.model_validate(await plan_service.get(session, plan_id))


@router.put("/{plan_id}", response_model=PlanRead)
async def put_plan(
    plan_id: Annotated[PlanId, Path()],
    body: PlanWrite,
    principal: CurrentPrincipal,
    session: DbSession,
) -> PlanRead:
    """Create or change a plan (the platform admin only)."""
    principal.require("platform:admin")
    return PlanRead.model_validate(await plan_service.put(session, plan_id, body))
