"""The conversation service's tables (schema `conversation`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
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
    persona: Mapped[str | None] = mapped_column(
        String(64), doc="The persona slug this contact chose; None: the tenant's default."
    )
    language: Mapped[str | None] = mapped_column(
        String(35), doc="The language replies are written in (a name or a BCP 47 tag)."
    )
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
    status: Mapped[str] = mapped_column(String(20), default="open", doc="open or closed")
    handler: Mapped[str] = mapped_column(
        String(20),
        default="assistant",
        server_default="assistant",
        doc="Who answers: `assistant`, or `human` once handed over (the assistant stays silent).",
    )
    handoff_reason: Mapped[str | None] = mapped_column(Text)
    handed_off_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    needs_review: Mapped[bool] = mapped_column(default=False, server_default="false")
    review_reason: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(
        Text, doc="A rolling summary of the turns up to `summary_through_seq`."
    )
    summary_through_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    quota_notified: Mapped[bool] = mapped_column(
        default=False,
        server_default="false",
        doc="The contact was told once that the assistant cannot answer (quota or plan).",
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_message_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Turn(Base):
    """One message of a transcript.

    Roles: `user` (the contact), `assistant` (the model's reply), `operator` (a person's reply
    after a handoff) and `system` (automatic replies: command answers, safe fallbacks, notices).
    A user turn's `outcome` says what became of it (`answered`, `blocked`, `ai_off`,
    `handed_over`, `rate_limited`, `flagged`, `command`, `quota`, `failed`).

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
    role: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(20))
    message_id: Mapped[uuid.UUID | None] = mapped_column(doc="The inbound message (user turns).")
    idempotency_key: Mapped[str | None] = mapped_column(
        String(200), doc="The requested send (assistant turns)."
    )
    provider: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(100))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 6), doc="USD, model calls only.")
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    fallback: Mapped[list[str]] = mapped_column(
        JSONB,
        default=list,
        server_default="[]",
        doc="Why the providers before the one that answered did not.",
    )
    moderation: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, doc="A moderation verdict that stopped this turn or its reply."
    )
    author: Mapped[str | None] = mapped_column(String(200), doc="The operator who wrote it.")
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Persona(Base):
    """A tenant's own persona, or its version of a library template (same slug)."""

    __tablename__ = "personas"
    __table_args__ = (UniqueConstraint("tenant_id", "slug", name="uq_personas_tenant_slug"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    instructions: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AssistantSettings(Base):
    """How a tenant's assistant behaves; a tenant without a row has the defaults."""

    __tablename__ = "assistant_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(
        default=True, server_default="true", doc="The tenant's AI kill switch."
    )
    default_persona: Mapped[str] = mapped_column(
        String(64), default="default", server_default="default"
    )
    assistant_name: Mapped[str | None] = mapped_column(String(100))
    business_facts: Mapped[str] = mapped_column(
        Text, default="", server_default="", doc="What the assistant may state as fact."
    )
    sms_max_segments: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    contact_messages_per_minute: Mapped[int] = mapped_column(
        Integer, default=10, server_default="10"
    )
    handoff_phrases: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    blocked_phrases: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    routes: Mapped[dict[str, list[str]]] = mapped_column(
        JSONB,
        default=dict,
        server_default="{}",
        doc="Purpose (chat, summary, moderation, composition) -> provider names, in order.",
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PlatformControl(Base):
    """Platform-wide switches set by the platform admin (`ai_enabled`)."""

    __tablename__ = "platform_controls"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Entitlement(Base):
    """The latest `entitlement.changed` for a tenant (`contact_address` empty) or a contact."""

    __tablename__ = "entitlements"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contact_address: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    plan: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    remaining: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict, server_default="{}")
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
