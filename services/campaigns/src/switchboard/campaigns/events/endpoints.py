"""Business events API: a tenant's systems tell us what happened (`order.shipped`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Query, Response, status

from switchboard.campaigns import metrics
from switchboard.campaigns.events.schemas import EVENT_TYPE_PATTERN, EventCreate, EventRead
from switchboard.campaigns.events.service import event_service
from switchboard.common.http import CurrentPrincipal, DbSession

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventRead,
    responses={
        200: {"model": EventRead, "description": "A retry: the event first stored with this key."},
        409: {"description": "The idempotency key was used for a different event."},
    },
)
async def ingest_event(
    body: EventCreate, response: Response, principal: CurrentPrincipal, session: DbSession
) -> EventRead:
    """Ingest a business event; the same `idempotency_key` again returns the first one."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    event, created = await event_service.ingest(session, tenant_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    metrics.EVENTS_INGESTED.labels("accepted" if created else "duplicate").inc()
    log.info("events.ingested", tenant_id=str(tenant_id), type=event.type, duplicate=not created)
    return EventRead.model_validate(event, from_attributes=True)


@router.get("", response_model=list[EventRead])
async def list_events(
    principal: CurrentPrincipal,
    session: DbSession,
    event_type: Annotated[
        str | None, Query(alias="type", pattern=EVENT_TYPE_PATTERN, max_length=100)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[UUID | None, Query(description="Only events older than this id.")] = None,
) -> list[EventRead]:
    """The tenant's business events, newest first, optionally of one type."""
    principal.require("messages:read")
    events = await event_service.list(
        session, principal.tenant(), event_type=event_type, limit=limit, before=before
    )
    return [EventRead.model_validate(e, from_attributes=True) for e in events]


@router.get("/{event_id}", response_model=EventRead)
async def get_event(event_id: UUID, principal: CurrentPrincipal, session: DbSession) -> EventRead:
    """One business event."""
    principal.require("messages:read")
    event = await event_service.get(session, principal.tenant(), event_id)
    return EventRead.model_validate(event, from_attributes=True)
