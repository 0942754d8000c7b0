"""A Meta webhook, taken: its messages become receipts, its statuses move our messages forward."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts import (
    DeliveryStatus,
    InteractiveReply,
    Media,
    MessageReceivedData,
    new_event_id,
)
from switchboard.gateway.addresses import provider_address
from switchboard.gateway.inbound.recorder import Receipt
from switchboard.gateway.meta.payloads import Message, Status
from switchboard.gateway.models import MessageStatusEvent, OutboundMessage
from switchboard.gateway.numbers.service import SenderAccount
from switchboard.gateway.outbound.status import status_service

log = structlog.get_logger(__name__)

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")

# Meta's statuses mapped onto ours; any other (`deleted`, `warning`...) is kept in history only.
META_STATUS: dict[str, DeliveryStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
}


def receipt(sender: SenderAccount, message: Message, media_url: str) -> Receipt:
    """The durable receipt of one WhatsApp message to `sender`; `media_url` + id fetches media."""
    body, media, interactive = _content(message, media_url)
    data = MessageReceivedData(
        message_id=new_event_id(),
        channel="whatsapp",
        provider="meta",
        provider_message_id=message.id,
        from_address=provider_address("+" + message.from_.lstrip("+")),
        to_address=sender.address,
        body=body,
        media=media,
        interactive=interactive,
        received_at=_time(message.timestamp),
    )
    return Receipt(sender.tenant_id, sender.id, data)


def _content(
    message: Message, media_url: str
) -> tuple[str, tuple[Media, ...], InteractiveReply | None]:
    if message.text is not None:
        return message.text.body, (), None
    attached = getattr(message, message.type, None) if message.type in MEDIA_TYPES else None
    if attached is not None:
        media = Media(
            url=f"{media_url}/{attached.id}",
            content_type=attached.mime_type,
            provider_media_id=attached.id,
            caption=attached.caption,
        )
        return attached.caption or "", (media,), None
    if message.interactive is not None:
        reply = message.interactive.button_reply or message.interactive.list_reply
        if reply is not None:
            kind = "button_reply" if message.interactive.button_reply else "list_reply"
            chosen = InteractiveReply(
                kind=kind, id=reply.id, title=reply.title, description=reply.description
            )
            return reply.title, (), chosen
    if message.button is not None:
        chosen = InteractiveReply(
            kind="button",
            id=message.button.payload or message.button.text,
            title=message.button.text,
        )
        return message.button.text, (), chosen
    return "", (), None  # locations, contacts, reactions: recorded, with nothing to read


def _time(timestamp: str | None) -> datetime:
    """When the contact sent it (Meta's Unix timestamp), never later than now."""
    now = datetime.now(UTC)
    if timestamp is None or not timestamp.isdigit():
        return now
    return min(datetime.fromtimestamp(int(timestamp), UTC), now)


async def apply_status(session: AsyncSession, sender: SenderAccount, status: Status) -> bool:
    """Move our message forward (never back); False when no message of this sender matches."""
    message = await _find(session, sender, status)
    if message is None:
        log.info("meta.status_unknown_message", sender_number_id=str(sender.id))
        return False
    detail = _detail(status)
    mapped = META_STATUS.get(status.status.lower())
    if mapped is None:
        session.add(
            MessageStatusEvent(
                message_id=message.id, status=status.status[:20], source="meta", detail=detail
            )
        )
        return True
    error = status.errors[0] if status.errors else None
    await status_service.transition(
        session,
        message,
        mapped,
        source="meta",
        detail=detail,
        error_code=str(error.code) if error else None,
        error_message=(error.message or error.title) if error else None,
    )
    return True


async def _find(
    session: AsyncSession, sender: SenderAccount, status: Status
) -> OutboundMessage | None:
    """By our id (echoed as `biz_opaque_callback_data`) or by the wamid; only this sender's."""
    ours = _uuid(status.biz_opaque_callback_data)
    condition = (
        OutboundMessage.id == ours
        if ours is not None
        else OutboundMessage.provider_message_id == status.id
    )
    message = await session.scalar(
        select(OutboundMessage)
        .where(condition, OutboundMessage.sender_number_id == sender.id)
        .with_for_update()
    )
    if message is None or message.provider_message_id not in (None, status.id):
        return None
    # Meta may report before the dispatcher has stored the wamid it was given.
    message.provider_message_id = status.id
    return message


def _uuid(raw: str | None) -> UUID | None:
    try:
        return UUID(raw) if raw else None
    except ValueError:
        return None


def _detail(status: Status) -> dict[str, Any]:
    detail: dict[str, Any] = {"status": status.status}
    if status.timestamp:
        detail["timestamp"] = status.timestamp
    if status.errors:
        detail["errors"] = [e.model_dump(exclude_none=True) for e in status.errors]
    if status.pricing:
        detail["pricing"] = status.pricing
    return detail
