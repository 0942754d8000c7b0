"""Conversations and their transcripts: one open thread per contact, number and channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, cast
from uuid import UUID

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.errors import Conflict, NotFound
from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    Channel,
    ConversationHandedBack,
    ConversationHandedOver,
    ConversationHandoffData,
    MessageRequested,
    MessageRequestedData,
    contact_key,
    new_event_id,
)
from switchboard.conversation.conversations.schemas import (
    ConversationDetail,
    ConversationRead,
    TurnRead,
)
from switchboard.conversation.models import Contact, Conversation, Turn, outbox


class ConversationService:
    def __init__(self) -> None:
        self.outbox = Outbox(outbox)

    async def hand_off(
        self,
        session: AsyncSession,
        conversation: Conversation,
        reason: str,
        *,
        by: HandoffBy = "operator",
    ) -> None:
        """A person answers from now on; the assistant stays silent until handed back.
        Announced on `conversations` (partners can subscribe) unless it already was."""
        if conversation.handler == "human":
            return
        conversation.handler = "human"
        conversation.handoff_reason = reason
        conversation.handed_off_at = datetime.now(UTC)
        await self._announce(session, conversation, ConversationHandedOver, by=by, reason=reason)

    async def hand_back(self, session: AsyncSession, conversation: Conversation) -> None:
        conversation.quota_notified = False
        if conversation.handler == "assistant":
            return
        conversation.handler = "assistant"
        await self._announce(session, conversation, ConversationHandedBack, by="operator")

    async def _announce(
        self,
        session: AsyncSession,
        conversation: Conversation,
        kind: type[ConversationHandedOver | ConversationHandedBack],
        *,
        by: HandoffBy,
        reason: str | None = None,
    ) -> None:
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None  # a conversation's contact is deleted with it
        event = handoff_event(
            kind,
            conversation.tenant_id,
            conversation.id,
            contact.address,
            conversation.channel,
            by=by,
            reason=reason,
        )
        await self.outbox.add(session, event, key=contact_key(contact.tenant_id, contact.address))

    async def list(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        *,
        contact_id: UUID | None,
        limit: int,
        before: datetime | None,
        handler: str | None = None,
        needs_review: bool | None = None,
        status: str | None = None,
    ) -> list[Conversation]:
        """The tenant's conversations, most recently active first."""
        statement = select(Conversation).where(Conversation.tenant_id == tenant_id)
        if contact_id is not None:
            statement = statement.where(Conversation.contact_id == contact_id)
        if handler is not None:
            statement = statement.where(Conversation.handler == handler)
        if needs_review is not None:
            statement = statement.where(Conversation.needs_review == needs_review)
        if status is not None:
            statement = statement.where(Conversation.status == status)
        if before is not None:
            statement = statement.where(Conversation.last_message_at < before)
        statement = statement.order_by(
            Conversation.last_message_at.desc(), Conversation.id.desc()
        ).limit(limit)
        return list((await session.scalars(statement)).all())

    async def locked(
        self, session: AsyncSession, tenant_id: UUID, conversation_id: UUID
    ) -> Conversation:
        """One conversation, locked for a change (against the assistant's own transaction);
        another tenant's is a 404."""
        statement = select(Conversation).where(
            Conversation.id == conversation_id, Conversation.tenant_id == tenant_id
        )
        conversation = await session.scalar(statement.with_for_update())
        if conversation is None:
            raise NotFound("No such conversation.")
        return conversation

    async def operator_reply(
        self,
        session: AsyncSession,
        conversation: Conversation,
        *,
        body: str,
        author: str,
        idempotency_key: str | None,
    ) -> tuple[Turn, bool]:
        """A person's reply, queued for delivery; the conversation is theirs from now on.

        Returns the turn and whether it is new: a retry with the same idempotency key gets the
        first reply back and sends nothing more.
        """
        if conversation.status != "open":
            raise Conflict(
                "This conversation is closed; the contact's next message opens a new one."
            )
        key = f"operator:{conversation.id}:{idempotency_key or new_event_id()}"
        existing = await session.scalar(
            select(Turn).where(
                Turn.tenant_id == conversation.tenant_id, Turn.idempotency_key == key
            )
        )
        if existing is not None:
            return existing, False
        await self.hand_off(session, conversation, "an operator replied")
        turn = Turn(
            conversation_id=conversation.id,
            tenant_id=conversation.tenant_id,
            role="operator",
            body=body,
            idempotency_key=key,
            author=author,
            delivery_status="queued",
        )
        session.add(turn)
        conversation.last_message_at = datetime.now(UTC)
        await session.flush()
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None  # a conversation's contact is deleted with it
        data = MessageRequestedData(
            idempotency_key=key,
            origin="operator",
            priority="reply",
            channel=cast(Channel, conversation.channel),
            to_address=contact.address,
            from_address=conversation.sender_address,
            body=body,
            conversation_id=conversation.id,
        )
        event = MessageRequested.create(conversation.tenant_id, data)
        await self.outbox.add(session, event, key=contact_key(contact.tenant_id, contact.address))
        return turn, True

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


HandoffBy = Literal["assistant", "operator"]


def handoff_event(
    kind: type[ConversationHandedOver | ConversationHandedBack],
    tenant_id: UUID,
    conversation_id: UUID,
    contact_address: str,
    channel: str,
    *,
    by: HandoffBy,
    reason: str | None = None,
) -> ConversationHandedOver | ConversationHandedBack:
    data = ConversationHandoffData(
        conversation_id=conversation_id,
        contact_address=contact_address,
        channel=cast(Channel, channel),
        by=by,
        reason=reason,
    )
    return kind.create(tenant_id, data)


def _last_turns(conversation_id: UUID, limit: int) -> Select[Turn]:
    return (
        select(Turn)
        .where(Turn.conversation_id == conversation_id)
        .order_by(Turn.seq.desc())
        .limit(limit)
    )


conversation_service = ConversationService()
