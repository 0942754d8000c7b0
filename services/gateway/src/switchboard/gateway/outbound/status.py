"""The delivery state machine: statuses only move forward, and every change is published."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    Channel,
    DeliveryStatus,
    MessageStatusChanged,
    MessageStatusChangedData,
    Origin,
    Provider,
    contact_key,
    is_forward,
)
from switchboard.gateway.models import MessageStatusEvent, OutboundMessage, outbox

# Twilio's statuses mapped onto ours; unknown ones are kept in the history only.
TWILIO_STATUS: dict[str, DeliveryStatus] = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


class StatusService:
    def __init__(self) -> None:
        self.outbox = Outbox(outbox)

    async def find_by_provider_id(
        self, session: AsyncSession, provider: str, provider_message_id: str
    ) -> OutboundMessage | None:
        statement = (
            select(OutboundMessage)
            .where(
                OutboundMessage.provider == provider,
                OutboundMessage.provider_message_id == provider_message_id,
            )
            .with_for_update()
        )
        return await session.scalar(statement)

    async def find_for_callback(
        self, session: AsyncSession, provider: str, provider_message_id: str, our_id: str | None
    ) -> OutboundMessage | None:
        """The message a status callback is about: by our id when the URL carries it."""
        if our_id is None:
            return await self.find_by_provider_id(session, provider, provider_message_id)
        try:
            message_id = UUID(our_id)
        except ValueError:
            return None
        message = await session.get(OutboundMessage, message_id, with_for_update=True)
        if message is None or message.provider_message_id not in (None, provider_message_id):
            return None
        message.provider_message_id = provider_message_id
        return message

    async def apply_provider_status(
        self, session: AsyncSession, message: OutboundMessage, raw: str, form: dict[str, str]
    ) -> None:
        detail: dict[str, Any] = {
            k: form[k] for k in ("MessageStatus", "ErrorCode", "NumSegments", "Price") if k in form
        }
        status = TWILIO_STATUS.get(raw.lower())
        if status is None:
            session.add(
                MessageStatusEvent(
                    message_id=message.id, status=raw[:20], source="twilio", detail=detail
                )
            )
            return
        if form.get("NumSegments", "").isdigit():
            message.segments = int(form["NumSegments"])
        message.price = _price(form.get("Price")) or message.price
        message.currency = form.get("PriceUnit") or message.currency
        await self.transition(
            session,
            message,
            status,
            source="twilio",
            detail=detail,
            error_code=form.get("ErrorCode") or None,
        )

    async def transition(
        self,
        session: AsyncSession,
        message: OutboundMessage,
        status: DeliveryStatus,
        *,
        source: str,
        detail: dict[str, Any] | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> bool:
        """Move `message` to `status` if that is forward; always record it in the history."""
        session.add(
            MessageStatusEvent(
                message_id=message.id, status=status, source=source, detail=detail or {}
            )
        )
        if not is_forward(message.status, status):
            return False
        message.status = status
        message.updated_at = datetime.now(UTC)
        if error_code or error_message:
            message.error_code = error_code
            message.error_message = error_message
        await self.outbox.add(
            session,
            MessageStatusChanged.create(message.tenant_id, status_data(message, status)),
            key=contact_key(message.tenant_id, message.to_address),
        )
        return True


def _price(raw: str | None) -> Decimal | None:
    if not raw:
        return None
    try:
        return abs(Decimal(raw))
    except InvalidOperation:
        return None


def status_data(message: Any, status: DeliveryStatus) -> MessageStatusChangedData:
    """What `message.status_changed` says of `message` (an `OutboundMessage`, or a row with its
    columns) at `status`."""
    return MessageStatusChangedData(
        message_id=message.id,
        idempotency_key=message.idempotency_key,
        origin=cast(Origin, message.origin),
        channel=cast(Channel, message.channel),
        to_address=message.to_address,
        status=status,
        provider=cast(Provider, message.provider),
        provider_message_id=message.provider_message_id,
        segments=message.segments,
        price=message.price,
        currency=message.currency,
        error_code=message.error_code,
        error_message=message.error_message,
        campaign_id=message.campaign_id,
    )


status_service = StatusService()
