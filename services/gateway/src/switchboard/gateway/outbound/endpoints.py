"""Operators' messages API: send, list, and one message's history."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.contracts import MessageRequestedData, MessageTemplate, new_event_id
from switchboard.gateway.outbound.schemas import (
    MessageDetail,
    MessageQuery,
    MessageRead,
    MessageSend,
)
from switchboard.gateway.outbound.service import outbound_service

router = APIRouter(prefix="/v1/messages", tags=["messages"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=MessageDetail)
async def send_message(
    body: MessageSend, principal: CurrentPrincipal, session: DbSession
) -> MessageDetail:
    """Send an ad-hoc message; the same `idempotency_key` never sends twice."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    request = MessageRequestedData(
        idempotency_key=body.idempotency_key or f"operator:{new_event_id()}",
        origin="operator",
        priority="bulk",
        channel=body.channel,
        to_address=body.to,
        from_address=body.from_,
        body=body.body,
        template=MessageTemplate(**body.template.model_dump()) if body.template else None,
    )
    message_id = await outbound_service.enqueue(session, tenant_id, request)
    return await outbound_service.get(session, tenant_id, message_id)


@router.get("", response_model=list[MessageRead])
async def list_messages(
    principal: CurrentPrincipal,
    session: DbSession,
    query: Annotated[MessageQuery, Query()],
) -> list[MessageRead]:
    """The tenant's messages, inbound and outbound, newest first; page with `before`."""
    principal.require("messages:read")
    return await outbound_service.list(session, principal.tenant(), query)


@router.get("/{message_id}", response_model=MessageDetail)
async def get_message(
    message_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> MessageDetail:
    """One message and every status it went through."""
    principal.require("messages:read")
    return await outbound_service.get(session, principal.tenant(), message_id)
