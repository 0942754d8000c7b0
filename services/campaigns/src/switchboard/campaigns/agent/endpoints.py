"""Agent decisions API: every decision with its reasoning, for audit, and the approval queue."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Query

from switchboard.campaigns.addresses import E164
from switchboard.campaigns.agent.schemas import (
    Action,
    Approval,
    DecisionRead,
    DecisionStatus,
    Rejection,
)
from switchboard.campaigns.agent.service import decision_service
from switchboard.campaigns.schedule.clock import CurrentClock
from switchboard.common.http import CurrentPrincipal, DbSession

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/agent-decisions", tags=["agent decisions"])

_REVIEW_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "It is not awaiting approval (any more)."}
}


@router.get("", response_model=list[DecisionRead])
async def list_agent_decisions(
    principal: CurrentPrincipal,
    session: DbSession,
    status: DecisionStatus | None = None,
    action: Action | None = None,
    campaign_id: UUID | None = None,
    rule_id: UUID | None = None,
    to_address: Annotated[str | None, Query(pattern=E164.pattern)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[UUID | None, Query(description="Only decisions older than this id.")] = None,
) -> list[DecisionRead]:
    """The agent's decisions, newest first; `status=awaiting_approval` is the approval queue."""
    principal.require("messages:read")
    decisions = await decision_service.list(
        session,
        principal.tenant(),
        status=status,
        action=action,
        campaign_id=campaign_id,
        rule_id=rule_id,
        to_address=to_address,
        limit=limit,
        before=before,
    )
    return [DecisionRead.model_validate(d) for d in decisions]


@router.get("/{decision_id}", response_model=DecisionRead)
async def get_agent_decision(
    decision_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> DecisionRead:
    principal.require("messages:read")
    decision = await decision_service.get(session, principal.tenant(), decision_id)
    return DecisionRead.model_validate(decision)


@router.post("/{decision_id}/approve", response_model=DecisionRead, responses=_REVIEW_CONFLICT)
async def approve_agent_decision(
    decision_id: UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    clock: CurrentClock,
    body: Approval | None = None,
) -> DecisionRead:
    """Schedule a message awaiting approval, as the agent wrote it or as edited here. It is
    checked again (consent, frequency cap, quiet hours) and may still be skipped."""
    principal.require("messages:write")
    body = body or Approval()
    decision = await decision_service.approve(
        session, principal.tenant(), decision_id, clock,
        reviewer=principal.key_id, message=body.message, note=body.note,
    )  # fmt: skip
    log.info("agent.approved", decision_id=str(decision_id), edited=body.message is not None)
    return DecisionRead.model_validate(decision)


@router.post("/{decision_id}/reject", response_model=DecisionRead, responses=_REVIEW_CONFLICT)
async def reject_agent_decision(
    decision_id: UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    clock: CurrentClock,
    body: Rejection | None = None,
) -> DecisionRead:
    """Send nothing; a journey waiting on the message goes on to its next step."""
    principal.require("messages:write")
    note = body.note if body else None
    decision = await decision_service.reject(
        session, principal.tenant(), decision_id, clock, reviewer=principal.key_id, note=note
    )
    log.info("agent.rejected", decision_id=str(decision_id))
    return DecisionRead.model_validate(decision)
