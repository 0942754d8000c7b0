"""Conversations and their transcripts: one open thread per contact, number and channel."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import ColumnElement, Select, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.errors import NotFound
from switchboard.contracts import DeliveryStatus, MessageReceivedData, is_forward, new_event_id
from switchboard.conversation.conversations.schemas import (
    ConversationDetail,
    ConversationRead,
    TurnRead,
)
from switchboard.conversation.llm import Completion
from switchboard.conversation.models import Contact, Conversation, Turn


def _open_thread(channel: str, sender_address: str) -> tuple[ColumnElement[bool], ...]:
    return (
        Conversation.channel == channel,
        Conversation.sender_address == sender_address,
        Conversation.status == "open",
    )


class ConversationService:
    async def open_for(
        self, session: AsyncSession, contact: Contact, channel: str, sender_address: str
    ) -> Conversation:
        """The contact's open conversation with this number, started if there is none."""
        statement = (
            insert(Conversation)
            .values(
                id=new_event_id(),
                tenant_id=contact.tenant_id,
                contact_id=contact.id,
                channel=channel,
                sender_address=sender_address,
                status="open",
            )
            .on_conflict_do_nothing(
                index_elements=["contact_id", "channel", "sender_address"],
                # A literal, not a bound value: a generic plan cannot match a partial index
                # to a parameter, and asyncpg switches to generic plans after five runs.
                index_where=text("status = 'open'"),
            )
        )
        await session.execute(statement)
        existing = select(Conversation).where(
            Conversation.contact_id == contact.id, *_open_thread(channel, sender_address)
        )
        return (await session.scalars(existing.with_for_update())).one()

    async def has_message(self, session: AsyncSession, tenant_id: UUID, message_id: UUID) -> bool:
        """True once the inbound message is in a transcript (and so has been answered)."""
        statement = select(Turn.id).where(
            Turn.tenant_id == tenant_id, Turn.message_id == message_id
        )
        return await session.scalar(statement) is not None

    async def recent_turns(
        self, session: AsyncSession, tenant_id: UUID, message: MessageReceivedData, limit: int
    ) -> list[Turn]:
        """The last `limit` turns of the open conversation this message belongs to, oldest first."""
        # Contact, then its open conversation, then that conversation's turns: each step an
        # equality lookup on a unique index, a plan that holds whatever the table statistics say.
        contact_id = (
            select(Contact.id)
            .where(Contact.tenant_id == tenant_id, Contact.address == message.from_address)
            .scalar_subquery()
        )
        conversation_id = (
            select(Conversation.id)
            .where(
                Conversation.contact_id == contact_id,
                *_open_thread(message.channel, message.to_address),
            )
            .scalar_subquery()
        )
        statement = (
            select(Turn)
            .where(Turn.conversation_id == conversation_id)
            .order_by(Turn.seq.desc())
            .limit(limit)
        )
        return list(reversed((await session.scalars(statement)).all()))

    async def add_user_turn(
        self, session: AsyncSession, conversation: Conversation, message: MessageReceivedData
    ) -> bool:
        """Append the contact's message; False if this message is already in the transcript."""
        statement = (
            insert(Turn)
            .values(
                id=new_event_id(),
                conversation_id=conversation.id,
                tenant_id=conversation.tenant_id,
                role="user",
                body=message.body,
                message_id=message.message_id,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "message_id"])
            .returning(Turn.id)
        )
        added = await session.scalar(statement) is not None
        if added:
            conversation.last_message_at = datetime.now(UTC)
        return added

    async def add_assistant_turn(
        self,
        session: AsyncSession,
        conversation: Conversation,
        completion: Completion,
        *,
        idempotency_key: str,
    ) -> Turn:
        """Append the assistant's reply, queued for delivery under `idempotency_key`."""
        turn = Turn(
            conversation_id=conversation.id,
            tenant_id=conversation.tenant_id,
            role="assistant",
            body=completion.text,
            idempotency_key=idempotency_key,
            provider=completion.provider,
            model=completion.model,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            delivery_status="queued",
        )
        session.add(turn)
        conversation.last_message_at = datetime.now(UTC)
        await session.flush()
        return turn

    async def record_delivery(
        self, session: AsyncSession, tenant_id: UUID, idempotency_key: str, status: DeliveryStatus
    ) -> bool:
        """Move a reply's delivery status forward; False if unknown here or not forward."""
        statement = select(Turn).where(
            Turn.tenant_id == tenant_id,
            Turn.idempotency_key == idempotency_key,
            Turn.role == "assistant",
        )
        turn = await session.scalar(statement.with_for_update())
        if turn is None:
            return False
        if not is_forward(turn.delivery_status or "queued", status):
            return False
        turn.delivery_status = status
        return True

    async def list(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        *,
        contact_id: UUID | None,
        limit: int,
        before: datetime | None,
    ) -> list[Conversation]:
        """The tenant's conversations, most recently active first."""
        statement = select(Conversation).where(Conversation.tenant_id == tenant_id)
        if contact_id is not None:
            statement = statement.where(Conversation.contact_id == contact_id)
        if before is not None:
            statement = statement.where(Conversation.last_message_at < before)
        statement = statement.order_by(
            Conversation.last_message_at.desc(), Conversation.id.desc()
        ).limit(limit)
        return list((await session.scalars(statement)).all())

    async def get(
        self, session: AsyncSession, tenant_id: UUID, conversation_id: UUID, *, turns: int
    ) -> ConversationDetail:
        """One conversation with its last `turns` turns; another tenant's is a 404."""
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None or conversation.tenant_id != tenant_id:
            raise NotFound("No such conversation.")
        rows = (await session.scalars(_last_turns(conversation_id, turns))).all()
        return ConversationDetail(
            **ConversationRead.model_validate(conversation, from_attributes=True).model_dump(),
            turns=[TurnRead.model_validate(t, from_attributes=True) for t in reversed(rows)],
        )


def _last_turns(conversation_id: UUID, limit: int) -> Select[Turn]:
    return (
        select(Turn)
        .where(Turn.conversation_id == conversation_id)
        .order_by(Turn.seq.desc())
        .limit(limit)
    )


conversation_service = ConversationService()
