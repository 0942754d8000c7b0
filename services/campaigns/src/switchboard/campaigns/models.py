"""The campaigns service's tables (schema `campaigns`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from switchboard.common.db import service_metadata
from switchboard.common.inbox import inbox_table
from switchboard.common.outbox import outbox_table
from switchboard.contracts import new_event_id

SCHEMA = "campaigns"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


def _uuid7() -> uuid.UUID:
    return new_event_id()


class BusinessEvent(Base):
    """Something that happened in a tenant's systems (`order.shipped`), stored once per key."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_events_tenant", "tenant_id", "id"),
        Index("ix_events_tenant_type", "tenant_id", "type", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    type: Mapped[str] = mapped_column(String(100))
    contact_address: Mapped[str | None] = mapped_column(String(32))
    external_contact_id: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(
        String(64), doc="SHA-256 of the request, to tell a retry from a reused key."
    )
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Contact(Base):
    """The replica of a contact owned by the conversation service, fed by the `contacts` topic."""

    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_tenant_address", "tenant_id", "address"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # Unbounded text: a replica stores whatever its owner published, it does not refuse it.
    address: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    time_zone: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    blocked: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), doc="When the change happened upstream (the event's time)."
    )


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
