"""Scheduled sends API: every proactive send, visible and cancellable before it goes."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from switchboard.campaigns.addresses import E164
from switchboard.campaigns.schedule.schemas import CancelRequest, ScheduledSendRead, SendStatus
from switchboard.campaigns.schedule.service import schedule_service
from switchboard.common.http import CurrentPrincipal, DbSession

router = APIRouter(prefix="/v1/scheduled-sends", tags=["scheduled sends"])


@router.get("", response_model=list[ScheduledSendRead])
async def list_scheduled_sends(
    principal: CurrentPrincipal,
    session: DbSession,
    status: SendStatus | None = None,
    contact_id: UUID | None = None,
    to_address: Annotated[str | None, Query(pattern=E164.pattern)] = None,
    rule_id: UUID | None = None,
    event_id: UUID | None = None,
    campaign_id: UUID | None = None,
    enrollment_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[UUID | None, Query(description="Only sends older than this id.")] = None,
) -> list[ScheduledSendRead]:
    """The tenant's sends, newest first: scheduled, sent, skipped or cancelled, with why."""
    principal.require("messages:read")
    sends = await schedule_service.list(
        session,
        principal.tenant(),
        status=status,
        contact_id=contact_id,
        to_address=to_address,
        rule_id=rule_id,
        event_id=event_id,
        campaign_id=campaign_id,
        enrollment_id=enrollment_id,
        limit=limit,
        before=before,
    )
    return [ScheduledSendRead.model_validate(s, from_attributes=True) for s in sends]


@router.get("/{send_id}", response_model=ScheduledSendRead)
async def get_scheduled_send(
    send_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> ScheduledSendRead:
    principal.require("messages:read")
    send = await schedule_service.get(session, principal.tenant(), send_id)
    return ScheduledSendRead.model_validate(send, from_attributes=True)


@router.post(
    "/{send_id}/cancel",
    response_model=ScheduledSendRead,
    responses={409: {"description": "It was sent, skipped or cancelled already."}},
)
async def cancel_scheduled_send(
    send_id: UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    body: CancelRequest | None = None,
) -> ScheduledSendRead:
    """Cancel a send before it goes."""
    principal.require("messages:write")
    reason = body.reason if body else None
    send = await schedule_service.cancel(session, principal.tenant(), send_id, reason)
    return ScheduledSendRead.model_validate(send, from_attributes=True)
