"""Inbound messages: the receipt is made durable before the provider hears back."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.outbox import Outbox
from switchboard.contracts import MessageReceived, MessageReceivedData, contact_key
from switchboard.gateway.models import InboundMessage, outbox
from switchboard.gateway.numbers.service import SenderAccount


class InboundService:
    def __init__(self) -> None:
        self.outbox = Outbox(outbox)

    async def receive(
        self, session: AsyncSession, sender: SenderAccount, message: MessageReceivedData
    ) -> UUID | None:
        """Store the receipt and its `message.received` event; None if it was already taken."""
        row = {
            "id": message.message_id,
            "tenant_id": sender.tenant_id,
            "sender_number_id": sender.id,
            "channel": message.channel,
            "provider": message.provider,
            "provider_message_id": message.provider_message_id,
            "from_address": message.from_address,
            "to_address": message.to_address,
            "body": message.body,
            "media": [m.model_dump() for m in message.media],
            "received_at": message.received_at,
        }
        statement = (
            insert(InboundMessage)
            .values(row)
            .on_conflict_do_nothing(index_elements=["provider", "provider_message_id"])
            .returning(InboundMessage.id)
        )
        if (await session.execute(statement)).first() is None:
            return None
        event = MessageReceived.create(sender.tenant_id, message)
        await self.outbox.add(
            session, event, key=contact_key(sender.tenant_id, message.from_address)
        )
        return message.message_id


inbound_service = InboundService()
