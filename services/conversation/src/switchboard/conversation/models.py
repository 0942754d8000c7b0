"""The conversation service's tables (schema `conversation`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from switchboard.common.db import service_metadata
from switchboard.common.inbox import inbox_table
from switchboard.common.outbox import outbox_table
from switchboard.contracts import new_event_id

SCHEMA = "conversation"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


def _uuid7() -> uuid.UUID:
    return new_event_id()


class Contact(Base):
    """Someone who writes to a tenant's numbers, known by their address (E.164)."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "address", name="uq_contacts_tenant_address"),
        Index("ix_contacts_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    address: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    blocked: Mapped[bool] = mapped_column(default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Conversation(Base):
    """A contact's thread with one of the tenant's numbers on one channel.

    At most one is open per (contact, channel, tenant number); closed ones stay as history.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        Index(
            "uq_conversations_open",
            "contact_id",
            "channel",
            "sender_address",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_conversations_tenant_last_message", "tenant_id", "last_message_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Contact.id))
    channel: Mapped[str] = mapped_column(String(20))
    sender_address: Mapped[str] = mapped_column(String(64), doc="The tenant's number, E.164.")
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_message_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Turn(Base):
    """One message of a transcript: the contact's (`user`) or the assistant's reply.

    A user turn is unique per inbound message id, an assistant turn per idempotency key, so a
    redelivered message can never add a turn twice. `seq` orders turns written in one transaction.
    """

    __tablename__ = "turns"
    __table_args__ = (
        # Named here: the shared convention would call both `uq_turns_tenant_id`.
        UniqueConstraint("tenant_id", "message_id", name="uq_turns_tenant_message"),
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_turns_tenant_idempotency_key"),
        Index("ix_turns_conversation_seq", "conversation_id", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    seq: Mapped[int] = mapped_column(BigInteger, Identity())
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Conversation.id))
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    role: Mapped[str] = mapped_column(String(20), doc="user or assistant")
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[uuid.UUID | None] = mapped_column(doc="The inbound message (user turns).")
    idempotency_key: Mapped[str | None] = mapped_column(
        String(200), doc="The requested send (assistant turns)."
    )
    provider: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(100))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
