"""The gateway's tables (schema `gateway`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from switchboard.common.db import service_metadata
from switchboard.common.inbox import inbox_table
from switchboard.common.outbox import outbox_table
from switchboard.contracts import new_event_id

SCHEMA = "gateway"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


def _uuid7() -> uuid.UUID:
    return new_event_id()


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKey(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Tenant.id), index=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(50)))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SenderNumber(Base):
    """A tenant's number on one channel, with its provider account (credentials encrypted)."""

    __tablename__ = "sender_numbers"
    __table_args__ = (
        UniqueConstraint("channel", "address"),
        # A Meta number is found by its phone_number_id (kept in account_sid) on every webhook.
        Index(
            "uq_sender_numbers_meta_phone_number_id",
            "account_sid",
            unique=True,
            postgresql_where=text("provider = 'meta'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Tenant.id), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(20))
    account_sid: Mapped[str | None] = mapped_column(String(64))
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    number_type: Mapped[str] = mapped_column(
        String(20), default="long_code", doc="long_code, toll_free, short_code or whatsapp"
    )
    messages_per_second: Mapped[Decimal | None] = mapped_column(
        Numeric(8, 3), doc="This number's own sending rate; else its type's"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SenderPacing(Base):
    """The next free sending slot of a number: dispatchers reserve slots here, under its lock."""

    __tablename__ = "sender_pacing"

    sender_number_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(SenderNumber.id, ondelete="CASCADE"), primary_key=True
    )
    next_slot: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InboundMessage(Base):
    """The durable receipt of a provider webhook; unique per provider message id (dedupe)."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id"),
        Index("ix_inbound_messages_tenant_received", "tenant_id", "received_at"),
        # The 24-hour window: a contact's last WhatsApp message to one sender number.
        Index(
            "ix_inbound_messages_window",
            "sender_number_id",
            "from_address",
            "received_at",
            postgresql_where=text("channel = 'whatsapp'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    sender_number_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(SenderNumber.id))
    channel: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(64))
    from_address: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboundMessage(Base):
    """One requested send and its delivery state; unique per tenant and idempotency key."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_outbound_messages_tenant_created", "tenant_id", "created_at"),
        Index("ix_outbound_messages_provider_id", "provider", "provider_message_id"),
        Index(
            "ix_outbound_messages_due",
            "priority",
            "created_at",
            postgresql_where="status = 'queued'",
        ),
        # The claim looks for due messages of one sender at a time.
        Index(
            "ix_outbound_messages_sender_due",
            "sender_number_id",
            "priority",
            "created_at",
            postgresql_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(SmallInteger, doc="0 = reply, 1 = bulk")
    channel: Mapped[str] = mapped_column(String(20))
    to_address: Mapped[str] = mapped_column(String(64))
    from_address: Mapped[str] = mapped_column(String(64))
    sender_number_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(SenderNumber.id))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    segments: Mapped[int | None] = mapped_column(Integer)
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 5))
    currency: Mapped[str | None] = mapped_column(String(3))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    in_reply_to: Mapped[uuid.UUID | None] = mapped_column()
    template: Mapped[dict[str, Any] | None] = mapped_column(JSONB, doc="WhatsApp template, if any")
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        doc="The campaign that requested it: every status event carries it (cost attribution)"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MessageStatusEvent(Base):
    """Append-only history of every status an outbound message went through."""

    __tablename__ = "message_status_history"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(OutboundMessage.id), index=True)
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20), doc="dispatcher or provider callback")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class SandboxMessage(Base):
    """What the sandbox transport 'sent': kept here instead of reaching a carrier."""

    __tablename__ = "sandbox_messages"
    __table_args__ = (Index("ix_sandbox_messages_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    message_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    from_address: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
