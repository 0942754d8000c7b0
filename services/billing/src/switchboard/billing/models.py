"""Billing's tables (schema `billing`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Index, Numeric, String, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from switchboard.common.db import service_metadata
from switchboard.common.inbox import inbox_table
from switchboard.common.outbox import outbox_table
from switchboard.contracts import new_event_id

SCHEMA = "billing"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


def _uuid7() -> uuid.UUID:
    return new_event_id()


class UsageEntry(Base):
    """One billable fact, counted once per (tenant, kind, source) whatever event brought it.

    The fact key is what a usage meter (Stripe's `identifier`) needs to stay idempotent too;
    `quantity` never changes after insert, only a rate-card estimate of `cost` may be replaced
    by the provider's price.
    """

    __tablename__ = "usage_ledger"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "source_id"),
        Index("ix_usage_ledger_tenant_occurred", "tenant_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(20))
    cost: Mapped[Decimal] = mapped_column(Numeric(20, 10))
    currency: Mapped[str] = mapped_column(String(3))
    priced_by: Mapped[str] = mapped_column(String(20), doc="reported or rate_card")
    source_id: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    provider: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(20))
    contact_address: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[uuid.UUID] = mapped_column(doc="The event that first reported the fact.")
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
