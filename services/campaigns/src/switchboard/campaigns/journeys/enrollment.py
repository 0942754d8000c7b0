"""Contacts entering and leaving campaigns, many at a time, and what a campaign's status does.

Every function works in the caller's transaction with set-based statements (a manual enrollment
of 100,000 contacts is a few dozen statements), and, for a campaign that announces enrollments,
publishes each contact's entering and leaving on the `campaigns` topic through the outbox.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.models import Campaign, outbox
from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    AnyEvent,
    EnrollmentData,
    EnrollmentEnded,
    EnrollmentStarted,
    new_event_id,
)

CHUNK = 5000
"""Rows per statement when many contacts enter or leave at once."""
JOURNEY_CHANNEL = "campaigns_journeys"
"""NOTIFYed when enrollments become due: the journey runner wakes at once."""

_outbox = Outbox(outbox)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A contact about to enter a campaign."""

    address: str
    contact_id: UUID | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    """The enrolling event's type and attributes (empty for a manual enrollment)."""
    event_id: UUID | None = None
    start_at: datetime | None = None
    """When its first step runs; now when not given."""


_ENROLL = text(
    """
    INSERT INTO campaigns.enrollments
        (id, tenant_id, campaign_id, version, contact_id, address, status, step, next_run_at,
         event_id, facts, enrolled_at)
    SELECT c.id, :tenant_id, :campaign_id, :version, c.contact_id, c.address, 'active', 0,
           c.start_at, c.event_id, c.facts, :now
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:contact_ids AS uuid[]), CAST(:addresses AS text[]),
        CAST(:start_ats AS timestamptz[]), CAST(:event_ids AS uuid[]), CAST(:facts AS jsonb[])
    ) AS c(id, contact_id, address, start_at, event_id, facts)
    WHERE (CAST(:reenroll AS boolean) OR NOT EXISTS (
        SELECT 1 FROM campaigns.enrollments AS e
        WHERE e.campaign_id = :campaign_id AND e.address = c.address
    ))
    -- nobody who opted out
    AND NOT EXISTS (
        SELECT 1 FROM campaigns.opt_outs AS o
        WHERE o.tenant_id = :tenant_id AND o.address = c.address AND o.opted_out
    )
    -- an event (or a date) enrolls a contact once, even where contacts may re-enter
    AND (c.event_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM campaigns.enrollments AS e
        WHERE e.campaign_id = :campaign_id AND e.address = c.address AND e.event_id = c.event_id
    ))
    ON CONFLICT (campaign_id, address) WHERE status = 'active' DO NOTHING
    RETURNING id, address
    """
)

_PATH = text(
    """
    INSERT INTO campaigns.enrollment_steps
        (tenant_id, campaign_id, enrollment_id, step, outcome, detail, send_id, at)
    SELECT tenant_id, campaign_id, enrollment_id, step, outcome, detail, send_id, at
    FROM unnest(
        CAST(:tenant_ids AS uuid[]), CAST(:campaign_ids AS uuid[]),
        CAST(:enrollment_ids AS uuid[]), CAST(:steps AS integer[]), CAST(:outcomes AS text[]),
        CAST(:details AS text[]), CAST(:send_ids AS uuid[]), CAST(:ats AS timestamptz[])
    ) AS p(tenant_id, campaign_id, enrollment_id, step, outcome, detail, send_id, at)
    """
)

_END = text(
    """
    UPDATE campaigns.enrollments AS e
    SET status = :status, reason = :reason, ended_at = :now, next_run_at = NULL, waiting = NULL
    FROM campaigns.campaigns AS c
    WHERE e.id = ANY(CAST(:ids AS uuid[])) AND e.status = 'active' AND c.id = e.campaign_id
    RETURNING e.id, e.tenant_id, e.campaign_id, e.address, e.step, c.announce_enrollments
    """
)

_CANCEL_SENDS = text(
    """
    UPDATE campaigns.scheduled_sends
    SET status = 'cancelled', reason = :reason, updated_at = now()
    WHERE enrollment_id = ANY(CAST(:ids AS uuid[])) AND status IN ('scheduled', 'paused')
    """
)

_CANCEL_DECISIONS = text(
    """
    UPDATE campaigns.agent_decisions
    SET status = 'cancelled', outcome = 'cancelled: ' || :reason, lease_until = NULL
    WHERE enrollment_id = ANY(CAST(:ids AS uuid[]))
      AND status IN ('pending', 'deciding', 'awaiting_approval')
    """
)
"""The agent's open decisions for enrollments taken out: nothing is decided or sent for them."""


async def wake_journeys(session: AsyncSession) -> None:
    """Wake the journey runners when this transaction commits (enrollments moved, due now)."""
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": JOURNEY_CHANNEL})


@dataclass
class Path:
    """Steps taken, gathered for one statement."""

    rows: dict[str, list[Any]] = field(
        default_factory=lambda: {
            name: []
            for name in (
                "tenant_ids",
                "campaign_ids",
                "enrollment_ids",
                "steps",
                "outcomes",
                "details",
                "send_ids",
                "ats",
            )
        }
    )

    def add(
        self,
        tenant_id: UUID,
        campaign_id: UUID,
        enrollment_id: UUID,
        step: int,
        outcome: str,
        at: datetime,
        *,
        detail: str | None = None,
        send_id: UUID | None = None,
    ) -> None:
        values = (tenant_id, campaign_id, enrollment_id, step, outcome, detail, send_id, at)
        for column, value in zip(self.rows.values(), values, strict=True):
            column.append(value)

    async def write(self, session: AsyncSession) -> None:
        if self.rows["enrollment_ids"]:
            await session.execute(_PATH, self.rows)


async def enroll(
    session: AsyncSession,
    campaign: Campaign,
    candidates: Sequence[Candidate],
    now: datetime,
    *,
    analyze: bool = True,
) -> list[UUID]:
    """Enroll the candidates that may enter: not active in the campaign already, unless it lets
    contacts re-enter never enrolled before, and never twice for one event. Returns the new
    enrollments' ids. A bulk enrollment refreshes the table's statistics (`analyze=False`: the
    caller does, once, after several calls)."""
    unique = list({c.address: c for c in candidates}.values())
    entered: list[UUID] = []
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        parameters = {
            "tenant_id": campaign.tenant_id,
            "campaign_id": campaign.id,
            "version": campaign.version,
            "reenroll": campaign.reenroll,
            "now": now,
            "ids": [new_event_id() for _ in chunk],
            "contact_ids": [c.contact_id for c in chunk],
            "addresses": [c.address for c in chunk],
            "start_ats": [c.start_at or now for c in chunk],
            "event_ids": [c.event_id for c in chunk],
            "facts": [json.dumps(c.facts) for c in chunk],
        }
        rows = (await session.execute(_ENROLL, parameters)).all()
        path = Path()
        events: list[tuple[AnyEvent, bytes | None]] = []
        for row in rows:
            path.add(campaign.tenant_id, campaign.id, row.id, 0, "entered", now)
            if campaign.announce_enrollments:
                data = EnrollmentData(
                    campaign_id=campaign.id, enrollment_id=row.id, contact_address=row.address
                )
                events.append((EnrollmentStarted.create(campaign.tenant_id, data), _key(campaign)))
        await path.write(session)
        await _outbox.add_many(session, events)
        entered += [row.id for row in rows]
    if analyze and len(entered) >= CHUNK:
        await refresh_statistics(session)
    return entered


async def refresh_statistics(session: AsyncSession) -> None:
    """After a bulk enrollment, as after any bulk load: the planner's statistics still describe
    the table as it was, and queries planned for a small table would scan it all."""
    await session.execute(text("ANALYZE campaigns.enrollments"))


async def end(
    session: AsyncSession,
    enrollment_ids: Sequence[UUID],
    *,
    status: str,
    reason: str,
    now: datetime,
    cancel_sends: bool = True,
) -> int:
    """End active enrollments (`completed`, or `exited` with why); returns how many ended.

    The sends they still had waiting, and the agent's open decisions for them, are cancelled
    when they are taken out (a reply, an opt-out, an operator); not when they finish their
    steps (`cancel_sends=False`), whose last messages may still wait for their window."""
    ended = 0
    for start in range(0, len(enrollment_ids), CHUNK):
        ids = list(enrollment_ids[start : start + CHUNK])
        parameters = {"ids": ids, "status": status, "reason": reason, "now": now}
        rows = (await session.execute(_END, parameters)).all()
        if not rows:
            continue
        if cancel_sends:
            ended_ids = [row.id for row in rows]
            await session.execute(_CANCEL_SENDS, {"ids": ended_ids, "reason": reason})
            await session.execute(_CANCEL_DECISIONS, {"ids": ended_ids, "reason": reason})
        path = Path()
        events: list[tuple[AnyEvent, bytes | None]] = []
        for row in rows:
            path.add(row.tenant_id, row.campaign_id, row.id, row.step, status, now, detail=reason)
            if row.announce_enrollments:
                events.append(
                    ended_event(row.tenant_id, row.campaign_id, row.id, row.address, reason)
                )
        await path.write(session)
        await _outbox.add_many(session, events)
        ended += len(rows)
    return ended


_ACTIVE_IN_CAMPAIGN = text(
    "SELECT id FROM campaigns.enrollments WHERE campaign_id = :campaign_id AND status = 'active'"
)
_PAUSE_SENDS = text(
    """
    UPDATE campaigns.scheduled_sends SET status = 'paused', updated_at = now()
    WHERE campaign_id = :campaign_id AND status = 'scheduled'
    """
)
_RESUME_SENDS = text(
    """
    UPDATE campaigns.scheduled_sends SET status = 'scheduled', updated_at = now()
    WHERE campaign_id = :campaign_id AND status = 'paused'
    """
)


async def pause(session: AsyncSession, campaign: Campaign) -> None:
    """Nothing of the campaign advances or sends until it resumes; sends already planned wait."""
    campaign.status = "paused"
    await session.execute(_PAUSE_SENDS, {"campaign_id": campaign.id})


async def resume(session: AsyncSession, campaign: Campaign) -> None:
    """Enrollments go on where they were; sends that fell due meanwhile go now (in their
    window)."""
    campaign.status = "active"
    await session.execute(_RESUME_SENDS, {"campaign_id": campaign.id})


async def disable(session: AsyncSession, campaign: Campaign, now: datetime) -> int:
    """Every active enrollment exits ("campaign disabled") and its waiting sends are cancelled;
    returns how many exited."""
    campaign.status = "disabled"
    ids = list((await session.scalars(_ACTIVE_IN_CAMPAIGN, {"campaign_id": campaign.id})).all())
    return await end(session, ids, status="exited", reason="campaign disabled", now=now)


def ended_event(
    tenant_id: UUID, campaign_id: UUID, enrollment_id: UUID, address: str, reason: str
) -> tuple[AnyEvent, bytes | None]:
    data = EnrollmentData(
        campaign_id=campaign_id, enrollment_id=enrollment_id, contact_address=address, reason=reason
    )
    return EnrollmentEnded.create(tenant_id, data), f"{tenant_id}:{campaign_id}".encode()


def _key(campaign: Campaign) -> bytes:
    return f"{campaign.tenant_id}:{campaign.id}".encode()
