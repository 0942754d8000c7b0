"""Billing's tables (schema `billing`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
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

SCHEMA = "billing"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


def _uuid7() -> uuid.UUID:
    return new_event_id()


class UsageEntry(Base):
    """One billable fact, counted once per (tenant, kind, source) whatever event brought it.

    The fact key is what a usage meter (Stripe's `identifier`) needs to stay idempotent too;
    `quantity` never changes after insert, only a rate-card estimate of `cost` may be replaced
    by the provider's price. `campaign_id` attributes the fact to the campaign that incurred it
    (its messages' segments, its agent's tokens), as the first event reporting it said.
    """

    __tablename__ = "usage_ledger"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "source_id"),
        Index("ix_usage_ledger_tenant_occurred", "tenant_id", "occurred_at"),
        # One campaign's costs over a period (the breakdown's `campaign_id` filter).
        Index(
            "ix_usage_ledger_tenant_campaign",
            "tenant_id",
            "campaign_id",
            "occurred_at",
            postgresql_where=text("campaign_id IS NOT NULL"),
        ),
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
    campaign_id: Mapped[uuid.UUID | None] = mapped_column()
    event_id: Mapped[uuid.UUID] = mapped_column(doc="The event that first reported the fact.")
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Plan(Base):
    """What a subscription includes and costs: data, not code (seeded, edited by the platform
    admin). A limit left empty is unlimited."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(10))
    """month or year."""
    per_line: Mapped[bool] = mapped_column(Boolean, default=False)
    """The price is per line (a family plan's members each count)."""
    messages_daily: Mapped[int | None] = mapped_column(Integer)
    messages_monthly: Mapped[int | None] = mapped_column(Integer)
    llm_tokens_monthly: Mapped[int | None] = mapped_column(BigInteger)
    overage_price: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    """Per message beyond the monthly allowance; none: the allowance is a hard stop."""
    features: Mapped[list[str]] = mapped_column(JSONB, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    """Offered to new subscribers; an inactive plan still serves its subscribers."""
    stripe_price_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    """The Stripe price Checkout sells it at; none: it cannot be bought through Stripe."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Subscription(Base):
    """Who is on which plan: a tenant itself (`contact_address` empty), or one end user of a
    consumer-assistant tenant. `announced` is the entitlement last published for it, so a
    change is published once."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "contact_address"),
        Index(
            "ix_subscriptions_sponsor",
            "tenant_id",
            "sponsor_address",
            postgresql_where=text("sponsor_address IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    contact_address: Mapped[str] = mapped_column(Text, default="")
    plan_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), default="active")
    """active, grace (payment failed, still served until `grace_until`) or suspended."""
    announced: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(100))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    """Lines paid for (a family plan's members, the sponsor's included)."""
    sponsor_address: Mapped[str | None] = mapped_column(Text)
    """A family line: the end user who pays for it (their subscription is the Stripe one)."""
    grace_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stripe_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The time of the newest Stripe event applied: an older one arriving late is ignored."""
    changes: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Plan changes and line changes made through Stripe, for their idempotency keys."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class QuotaCounter(Base):
    """What one subscriber used in one period (a UTC day or month), counted once per ledger
    fact: the tenant's row (`contact_address` empty) counts all of its end users too."""

    __tablename__ = "quota_counters"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contact_address: Mapped[str] = mapped_column(Text, primary_key=True)
    period: Mapped[str] = mapped_column(String(5), primary_key=True)
    """day or month."""
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    llm_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[Decimal] = mapped_column(
        Numeric(20, 10), default=Decimal(0), server_default=text("0")
    )
    """What the facts cost when counted (a rate-card estimate a provider's price later
    replaces in the ledger stays as it was here: budgets watch, the ledger bills)."""


class Budget(Base):
    """A tenant's monthly spending budget: an event when this month's usage crosses each
    threshold, once a month each."""

    __tablename__ = "budgets"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    monthly_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    thresholds: Mapped[list[int]] = mapped_column(JSONB)
    """Percentages of the amount, ascending (e.g. 50, 80, 100)."""
    alerted: Mapped[dict[str, list[int]]] = mapped_column(JSONB, default=dict)
    """The thresholds already announced, by month (`YYYY-MM`): only the current month is kept."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Checkout(Base):
    """A Stripe Checkout session we opened for a subscriber and plan; its id is the session's
    `client_reference_id`, so the completed checkout finds its subscriber."""

    __tablename__ = "checkouts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    contact_address: Mapped[str] = mapped_column(Text, default="")
    plan_id: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    stripe_customer_id: Mapped[str] = mapped_column(String(100))
    stripe_session_id: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    """open or complete."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StripeCustomer(Base):
    """The Stripe customer of a subscriber (created once: its idempotency key is ours)."""

    __tablename__ = "stripe_customers"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contact_address: Mapped[str] = mapped_column(Text, primary_key=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(100), unique=True)


class UsageReport(Base):
    """A message beyond a plan's monthly allowance, billed at its overage price: reported to
    Stripe's meter once (its id is the meter event's `identifier`), then `reported_at` set."""

    __tablename__ = "usage_reports"
    __table_args__ = (
        Index("ix_usage_reports_unreported", "id", postgresql_where=text("reported_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    """`<ledger fact>:<subscription>`: one report per fact and subscriber, however often the
    fact is delivered."""
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    contact_address: Mapped[str] = mapped_column(Text)
    stripe_customer_id: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StripeEvent(Base):
    """A Stripe webhook event taken: each is applied once, however often it is delivered."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
