"""Metrics' tables (schema `metrics`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from switchboard.common.db import service_metadata
from switchboard.common.inbox import inbox_table

SCHEMA = "metrics"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class HourlyRollup(Base):
    """One counter per tenant, hour, metric and dimension (empty when the metric has none)."""

    __tablename__ = "hourly_rollups"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    metric: Mapped[str] = mapped_column(Text, primary_key=True)
    dimension: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class KnownContact(Base):
    """Contacts already counted, so a profile update is not a new contact."""

    __tablename__ = "known_contacts"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


inbox = inbox_table(Base.metadata)
