"""Partner webhook tables: endpoints, deliveries (one per event and endpoint) and attempts."""

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
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.contracts import new_event_id
from switchboard.gateway.models import Base

DELIVERIES_CHANNEL = "gateway_partner_deliveries"


class WebhookEndpoint(Base):
    """Where a tenant wants its events, which ones, and the secrets that sign them."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_tenant_id", "tenant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_event_id)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[bytes] = mapped_column(LargeBinary, doc="Fernet-sealed whsec_ secret")
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """One event for one endpoint: its exact signed payload and where its retries stand."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
        Index(
            "ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_event_id)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(WebhookEndpoint.id, ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text, doc="the JSON body, byte for byte as signed")
    status: Mapped[str] = mapped_column(String(20), doc="pending, succeeded or failed")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, doc="in the current schedule")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery, as the operator sees it in the attempt log."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(WebhookEndpoint.id, ondelete="CASCADE")
    )
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(WebhookDelivery.id, ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    succeeded: Mapped[bool] = mapped_column()
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
