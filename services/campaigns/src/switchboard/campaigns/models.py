"""The campaigns service's tables (schema `campaigns`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
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
    __table_args__ = (
        Index("ix_contacts_tenant_address", "tenant_id", "address"),
        # An event may name its contact by the tenant's own id, kept as the `external_id`
        # attribute.
        Index(
            "ix_contacts_tenant_external_id",
            "tenant_id",
            text("(attributes ->> 'external_id')"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # Unbounded text: a replica stores whatever its owner published, it does not refuse it.
    address: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    time_zone: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    blocked: Mapped[bool] = mapped_column(default=False)
    number_zone: Mapped[str | None] = mapped_column(Text)
    """The time zone of the number's area, when it has one (worked out when the contact
    changes, not for every send)."""
    region: Mapped[str | None] = mapped_column(String(2))
    """The number's ISO 3166 region, likewise."""
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), doc="When the change happened upstream (the event's time)."
    )


class OptOut(Base):
    """A contact who opted out (STOP, from the gateway's `consent` topic), on any channel: no
    proactive message is planned or sent to them until they opt in again (START)."""

    __tablename__ = "opt_outs"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(Text, primary_key=True)
    opted_out: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), doc="When the change happened upstream (the event's time)."
    )


class Entitlement(Base):
    """Billing's latest `entitlement.changed` for a tenant (`contact_address` empty) or one of its
    contacts, from the compacted `entitlements` topic: used-up messages or a suspended account
    stop proactive sends (`entitlements.py`)."""

    __tablename__ = "entitlements"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contact_address: Mapped[str] = mapped_column(Text, primary_key=True, default="")
    plan: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    """active, grace (still sends) or suspended."""
    remaining: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    """What is left of each counter; `messages` is the one campaigns reads."""
    event_time: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), doc="When billing decided it (the event's time)."
    )


class Rule(Base):
    """When an event of `event_type` arrives and `condition` holds, send `template`'s message.

    Every edit raises `version`; a send records the version that made it, and carries its
    rendered text, so an edit never changes a send already scheduled.
    """

    __tablename__ = "rules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_rules_tenant", "tenant_id", "id"),
        Index("ix_rules_trigger", "tenant_id", "event_type", postgresql_where=text("enabled")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(100))
    event_attributes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    """The event attributes the rule needs (its template may read no others); an event without
    one of them does not qualify."""
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    template: Mapped[str | None] = mapped_column(Text)
    compose: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    """Instead of `template`: the message in plain language, for the agent (`agent/compose.py`)."""
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    from_address: Mapped[str | None] = mapped_column(String(32))
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SendingPolicy(Base):
    """A tenant's rules for proactive sends: when (local hours), how often, and the zone to
    assume for a contact whose zone is unknown. A tenant without a row has the defaults."""

    __tablename__ = "sending_policies"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    send_window: Mapped[dict[str, Any]] = mapped_column(JSONB)
    region_windows: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    default_time_zone: Mapped[str] = mapped_column(Text)
    frequency_cap: Mapped[int | None] = mapped_column(Integer)
    frequency_period_seconds: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ScheduledSend(Base):
    """One proactive message: scheduled, then sent, skipped or cancelled, with its cause.

    The scheduler's due table: `due_at` is when it may go (its requested time moved out of
    quiet hours); the scheduler takes due rows with `FOR UPDATE SKIP LOCKED`.
    """

    __tablename__ = "scheduled_sends"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index(
            "ix_scheduled_sends_due",
            "tenant_id",
            "priority",
            "due_at",
            postgresql_where=text("status = 'scheduled'"),
        ),
        Index("ix_scheduled_sends_next", "due_at", postgresql_where=text("status = 'scheduled'")),
        Index(
            "ix_scheduled_sends_sent_to",
            "tenant_id",
            "to_address",
            "sent_at",
            postgresql_where=text("status = 'sent'"),
        ),
        Index("ix_scheduled_sends_tenant", "tenant_id", "id"),
        Index("ix_scheduled_sends_contact", "tenant_id", "contact_id", "id"),
        Index("ix_scheduled_sends_rule", "tenant_id", "rule_id", "id"),
        Index("ix_scheduled_sends_campaign", "campaign_id", "step"),
        Index(
            "ix_scheduled_sends_waiting_to",
            "tenant_id",
            "to_address",
            postgresql_where=text("status IN ('scheduled', 'paused')"),
        ),
        Index(
            "ix_scheduled_sends_enrollment",
            "enrollment_id",
            postgresql_where=text("enrollment_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(Text)
    contact_id: Mapped[uuid.UUID | None] = mapped_column()
    to_address: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    from_address: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)
    """0 for a rule's transactional message, 1 for a campaign's bulk step: 0 goes first."""
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    time_zone: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    reason: Mapped[str | None] = mapped_column(Text)
    rule_id: Mapped[uuid.UUID | None] = mapped_column()
    rule_version: Mapped[int | None] = mapped_column(Integer)
    event_id: Mapped[uuid.UUID | None] = mapped_column()
    """The business event that caused it."""
    campaign_id: Mapped[uuid.UUID | None] = mapped_column()
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column()
    step: Mapped[int | None] = mapped_column(Integer)
    """The campaign step (its index in the enrollment's version) that planned it."""
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    decision_id: Mapped[uuid.UUID | None] = mapped_column()
    """The agent's decision that wrote it, for an AI-composed message."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AgentDecision(Base):
    """The agent asked about one contact for a rule or a campaign step, and what came of it.

    The agent's due table (`FOR UPDATE SKIP LOCKED`, like `scheduled_sends`): `pending` until
    `due_at`, `deciding` while a worker holds its lease, then `decided` (its `outcome` says what
    the checks made of it), `awaiting_approval` (then `approved` or `rejected` by an operator),
    or `failed` (no valid decision from the model after its attempts). Kept for audit with the
    model's reasoning, confidence, tools used, tokens and cost.
    """

    __tablename__ = "agent_decisions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index(
            "ix_agent_decisions_due",
            "due_at",
            postgresql_where=text("status IN ('pending', 'deciding')"),
        ),
        Index("ix_agent_decisions_tenant", "tenant_id", "id"),
        Index("ix_agent_decisions_status", "tenant_id", "status", "id"),
        Index("ix_agent_decisions_campaign", "campaign_id", "id"),
        Index("ix_agent_decisions_rule", "rule_id", "id"),
        Index(
            "ix_agent_decisions_open_enrollment",
            "enrollment_id",
            postgresql_where=text("status IN ('pending', 'deciding', 'awaiting_approval')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    rule_id: Mapped[uuid.UUID | None] = mapped_column()
    rule_version: Mapped[int | None] = mapped_column(Integer)
    event_id: Mapped[uuid.UUID | None] = mapped_column()
    campaign_id: Mapped[uuid.UUID | None] = mapped_column()
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column()
    step: Mapped[int | None] = mapped_column(Integer)
    contact_id: Mapped[uuid.UUID | None] = mapped_column()
    to_address: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    from_address: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(SmallInteger)
    compose: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """The instructions, the length limit and whether approval is required, as written."""
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """The event (type and attributes) the decision is about."""
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delays: Mapped[int] = mapped_column(Integer, default=0)
    """How many DELAYs came before this one (a chain of them ends in a skip)."""
    previous_id: Mapped[uuid.UUID | None] = mapped_column()
    """The decision that DELAYed to this one."""
    action: Mapped[str | None] = mapped_column(String(8))
    message: Mapped[str | None] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    delay_minutes: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(Text)
    """What happened after the checks: scheduled, held for quiet hours, skipped and why..."""
    send_id: Mapped[uuid.UUID | None] = mapped_column()
    tool_calls: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    """The tools the model used, with their arguments, in order."""
    error: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    proposed_message: Mapped[str | None] = mapped_column(Text)
    """The agent's own message, when an operator edited it before approving."""
    reviewed_by: Mapped[str | None] = mapped_column(Text)
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReceivedMessage(Base):
    """What contacts texted the tenant (from `messages.inbound`), for the agent's view of recent
    messages beside the sends in `scheduled_sends`; purged after its retention."""

    __tablename__ = "received_messages"
    __table_args__ = (
        Index("ix_received_messages_contact", "tenant_id", "address", "received_at"),
        Index("ix_received_messages_received", "received_at"),
    )

    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    address: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Campaign(Base):
    """A journey: how contacts enter it (`trigger`), the steps they go through, and how they
    leave early (`exit_replies`). Its steps are versioned: an edit makes a new version, and each
    enrollment keeps the version it started on."""

    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_campaigns_tenant", "tenant_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    """draft, active, paused (nothing advances or sends; resumes where it was) or disabled
    (every enrollment has left)."""
    trigger: Mapped[dict[str, Any]] = mapped_column(JSONB)
    event_attributes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    exit_replies: Mapped[list[str]] = mapped_column(JSONB, default=list)
    reenroll: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether a contact who left may enter again (never two active enrollments at once)."""
    announce_enrollments: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether each contact's entering and leaving is published on `campaigns` (for partners
    that follow single journeys); off, a broadcast to 100,000 contacts publishes no 200,000
    events nobody asked for."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CampaignVersion(Base):
    """One version of a campaign's steps, kept while enrollments may be on it."""

    __tablename__ = "campaign_versions"

    campaign_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Enrollment(Base):
    """One contact's way through one version of a campaign: the step it is at and when it
    next moves (the journey runner's due table, like `scheduled_sends` for the scheduler)."""

    __tablename__ = "enrollments"
    __table_args__ = (
        Index(
            "uq_enrollments_active",
            "campaign_id",
            "address",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_enrollments_due", "next_run_at", postgresql_where=text("status = 'active'")),
        Index(
            "ix_enrollments_contact",
            "tenant_id",
            "address",
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_enrollments_campaign", "campaign_id", "id"),
        Index("ix_enrollments_campaign_address", "campaign_id", "address"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    campaign_id: Mapped[uuid.UUID] = mapped_column()
    version: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[uuid.UUID | None] = mapped_column()
    address: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    """active, completed, or exited (with `reason`)."""
    reason: Mapped[str | None] = mapped_column(Text)
    step: Mapped[int] = mapped_column(Integer, default=0)
    waiting: Mapped[str | None] = mapped_column(String(16))
    """What the current step waits for: `time` (a wait), `reply` (until a timeout), or `agent`
    (its send step's decision; the agent moves it on, see `agent/runner.py`)."""
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    event_id: Mapped[uuid.UUID | None] = mapped_column()
    """The business event that enrolled the contact, if one did."""
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    """The enrolling event's type and attributes, for the steps' templates and branches."""
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EnrollmentJob(Base):
    """An audience being enrolled in the background, a chunk of contacts per transaction, so a
    large one neither holds a request nor keeps the runner waiting for its last contact."""

    __tablename__ = "enrollment_jobs"
    __table_args__ = (
        Index("ix_enrollment_jobs_running", "id", postgresql_where=text("status = 'running'")),
        Index("ix_enrollment_jobs_campaign", "campaign_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    campaign_id: Mapped[uuid.UUID] = mapped_column()
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    """Which of the tenant's contacts (over contact fields); none: all of them."""
    status: Mapped[str] = mapped_column(String(16), default="running")
    """running, done, or stopped (the campaign was no longer active; `reason` says so)."""
    reason: Mapped[str | None] = mapped_column(Text)
    enrolled: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    after_contact_id: Mapped[uuid.UUID | None] = mapped_column()
    """The last contact gone through (contacts are taken in id order)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EnrollmentStep(Base):
    """What happened to an enrollment at a step: the contact's path through the campaign."""

    __tablename__ = "enrollment_steps"
    __table_args__ = (
        Index("ix_enrollment_steps_enrollment", "enrollment_id", "id"),
        Index("ix_enrollment_steps_campaign", "campaign_id", "step", "outcome"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    campaign_id: Mapped[uuid.UUID] = mapped_column()
    enrollment_id: Mapped[uuid.UUID] = mapped_column()
    step: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    """entered, composing, scheduled, skipped, waiting, branched, passed, waiting_reply, replied,
    timed_out, exited, completed."""
    detail: Mapped[str | None] = mapped_column(Text)
    send_id: Mapped[uuid.UUID | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)
