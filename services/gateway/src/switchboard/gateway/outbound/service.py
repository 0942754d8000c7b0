"""Outbound messages: requests become queued rows; the dispatcher takes it from there."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.errors import NotFound
from switchboard.common.segments import count_segments
from switchboard.contracts import MessageRequestedData, new_event_id
from switchboard.gateway.addresses import to_e164
from switchboard.gateway.models import (
    InboundMessage,
    MessageStatusEvent,
    OutboundMessage,
    SenderNumber,
)
from switchboard.gateway.outbound.schemas import (
    MessageDetail,
    MessageQuery,
    MessageRead,
    StatusRead,
)

PRIORITY = {"reply": 0, "bulk": 1}


class OutboundService:
    async def enqueue(
        self, session: AsyncSession, tenant_id: UUID, request: MessageRequestedData
    ) -> UUID:
        """Queue a send once per idempotency key; returns the message id (new or existing)."""
        sender = await self._sender(session, tenant_id, request.channel, request.from_address)
        values = {
            "id": new_event_id(),
            "tenant_id": tenant_id,
            "idempotency_key": request.idempotency_key,
            "origin": request.origin,
            "priority": PRIORITY[request.priority],
            "channel": request.channel,
            "to_address": to_e164(request.to_address),
            "from_address": sender.address,
            "sender_number_id": sender.id,
            "body": request.body,
            "segments": count_segments(request.body),
            "status": "queued",
            "provider": sender.provider,
            "not_before": request.not_before,
            "expires_at": request.expires_at,
            "in_reply_to": request.in_reply_to,
            "template": request.template.model_dump(mode="json") if request.template else None,
            "campaign_id": request.campaign_id,
        }
        statement = (
            insert(OutboundMessage)
            .values(values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
            .returning(OutboundMessage.id)
        )
        new_id = await session.scalar(statement)
        if new_id is not None:
            return new_id
        existing = select(OutboundMessage.id).where(
            OutboundMessage.tenant_id == tenant_id,
            OutboundMessage.idempotency_key == request.idempotency_key,
        )
        return (await session.scalars(existing)).one()

    async def list(
        self, session: AsyncSession, tenant_id: UUID, query: MessageQuery
    ) -> list[MessageRead]:
        """One tenant's messages, inbound and outbound, newest first, filtered by `query`."""
        merged: list[MessageRead] = []
        if query.direction in (None, "outbound") and query.status != "received":
            merged += [
                _outbound_read(m) for m in await session.scalars(_outbound(tenant_id, query))
            ]
        inbound_wanted = query.direction in (None, "inbound") and query.status in (None, "received")
        if inbound_wanted and query.origin is None:  # inbound messages have no origin
            merged += [_inbound_read(m) for m in await session.scalars(_inbound(tenant_id, query))]
        merged.sort(key=lambda m: m.created_at, reverse=True)
        return merged[: query.limit]

    async def get(self, session: AsyncSession, tenant_id: UUID, message_id: UUID) -> MessageDetail:
        """One message with its full status history; another tenant's message is a 404."""
        outbound = await session.get(OutboundMessage, message_id)
        if outbound is not None and outbound.tenant_id == tenant_id:
            history = await session.scalars(
                select(MessageStatusEvent)
                .where(MessageStatusEvent.message_id == message_id)
                .order_by(MessageStatusEvent.id)
            )
            return MessageDetail(
                **_outbound_read(outbound).model_dump(),
                history=[StatusRead.model_validate(h, from_attributes=True) for h in history],
            )
        inbound = await session.get(InboundMessage, message_id)
        if inbound is not None and inbound.tenant_id == tenant_id:
            return MessageDetail(**_inbound_read(inbound).model_dump())
        raise NotFound("No such message.")

    async def _sender(
        self, session: AsyncSession, tenant_id: UUID, channel: str, from_address: str | None
    ) -> SenderNumber:
        statement = select(SenderNumber).where(
            SenderNumber.tenant_id == tenant_id, SenderNumber.channel == channel
        )
        if from_address is not None:
            statement = statement.where(SenderNumber.address == to_e164(from_address))
        sender = await session.scalar(statement.order_by(SenderNumber.created_at).limit(1))
        if sender is None:
            raise NotFound(
                f"The tenant has no {channel} sender number"
                + (f" {from_address}." if from_address else ".")
            )
        return sender


def _outbound(tenant_id: UUID, query: MessageQuery) -> Select[OutboundMessage]:
    statement = select(OutboundMessage).where(OutboundMessage.tenant_id == tenant_id)
    if query.channel is not None:
        statement = statement.where(OutboundMessage.channel == query.channel)
    if query.contact is not None:
        statement = statement.where(OutboundMessage.to_address == to_e164(query.contact))
    if query.status is not None:
        statement = statement.where(OutboundMessage.status == query.status)
    if query.origin is not None:
        statement = statement.where(OutboundMessage.origin == query.origin)
    if query.after is not None:
        statement = statement.where(OutboundMessage.created_at > query.after)
    if query.before is not None:
        statement = statement.where(OutboundMessage.created_at < query.before)
    return statement.order_by(OutboundMessage.created_at.desc()).limit(query.limit)


def _inbound(tenant_id: UUID, query: MessageQuery) -> Select[InboundMessage]:
    statement = select(InboundMessage).where(InboundMessage.tenant_id == tenant_id)
    if query.channel is not None:
        statement = statement.where(InboundMessage.channel == query.channel)
    if query.contact is not None:
        statement = statement.where(InboundMessage.from_address == to_e164(query.contact))
    if query.after is not None:
        statement = statement.where(InboundMessage.received_at > query.after)
    if query.before is not None:
        statement = statement.where(InboundMessage.received_at < query.before)
    return statement.order_by(InboundMessage.received_at.desc()).limit(query.limit)


def _outbound_read(message: OutboundMessage) -> MessageRead:
    return MessageRead(
        id=message.id,
        direction="outbound",
        channel=message.channel,
        from_address=message.from_address,
        to_address=message.to_address,
        body=message.body,
        status=message.status,
        origin=message.origin,
        provider_message_id=message.provider_message_id,
        segments=message.segments,
        price=message.price,
        error_code=message.error_code,
        template=message.template,
        created_at=message.created_at,
    )


def _inbound_read(message: InboundMessage) -> MessageRead:
    return MessageRead(
        id=message.id,
        direction="inbound",
        channel=message.channel,
        from_address=message.from_address,
        to_address=message.to_address,
        body=message.body,
        status="received",
        provider_message_id=message.provider_message_id,
        created_at=message.received_at,
    )


outbound_service = OutboundService()
