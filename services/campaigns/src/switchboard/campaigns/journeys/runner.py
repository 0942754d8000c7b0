"""The journey runner: moves enrollments through their campaign's steps when they fall due.

`enrollments` is its due table, as `scheduled_sends` is the scheduler's. One pass, in one
transaction: the due active enrollments of active campaigns, `FOR UPDATE SKIP LOCKED` (so the
runners of several replicas share the work, each pass taking enrollments no other holds), each taken
through its version's steps until it waits, leaves or completes (see `journeys/steps.py`). A
`send` step plans a send on the schedule (the scheduler holds it out of quiet hours, caps and
sends it), so a journey's messages keep every rule a rule's do; one due now, for a tenant
without a frequency cap, is handed to the gateway (the outbox) in the pass's own transaction
and recorded as sent, one hop less for a broadcast. A send to a contact whom billing's quota
stops (their tenant's messages used up or its account suspended, or their own:
`entitlements.py`) is planned skipped, with the reason, so none bypasses the quota; the journey
goes on past it (a quota is topped up, unlike an opt-out). A `send` step written for the agent
(`compose`) asks it instead and waits (`waiting = 'agent'`); the agent moves the enrollment on
once its decision is settled (`agent/service.py`). A crash before the commit leaves
the enrollments where they were; the sends' idempotency keys name the enrollment, the step and
the pass's time, so nothing is planned twice.

Date-triggered campaigns are swept once a minute: contacts whose date attribute, plus the
campaign's offset, falls within a day of now are enrolled to start at the campaign's time of day
on their clock (once per date: a contact's `signup_date` enrolls them once).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns import metrics
from switchboard.campaigns.agent.compose import Compose
from switchboard.campaigns.agent.service import ask
from switchboard.campaigns.contacts.service import contact_facts
from switchboard.campaigns.entitlements import stopped_by_quota
from switchboard.campaigns.journeys import jobs
from switchboard.campaigns.journeys.enrollment import (
    JOURNEY_CHANNEL,
    Candidate,
    Path,
    ended_event,
    enroll,
)
from switchboard.campaigns.journeys.steps import (
    BranchStep,
    ExitStep,
    SendStep,
    Step,
    WaitForReplyStep,
    WaitStep,
    jump,
    parse_steps,
)
from switchboard.campaigns.journeys.triggers import DateTrigger, parse_trigger
from switchboard.campaigns.models import Campaign, CampaignVersion, Contact, outbox
from switchboard.campaigns.policy.service import Policy, policy_service
from switchboard.campaigns.rules.compiled import compile_rule_template
from switchboard.campaigns.rules.conditions import evaluate
from switchboard.campaigns.rules.templates import TemplateError, render
from switchboard.campaigns.schedule.clock import Clock
from switchboard.campaigns.schedule.scheduler import message_request, opted_out_of
from switchboard.campaigns.timing import SendWindow, hold, next_local_time
from switchboard.common.db import Database
from switchboard.common.notify import Wakeup, run_passes
from switchboard.common.outbox import Outbox
from switchboard.contracts import AnyEvent

log = structlog.get_logger(__name__)

CAMPAIGN_PRIORITY = 1
"""A campaign's message goes after a rule's (priority 0) when both are due."""
SWEEP_EVERY = timedelta(minutes=1)
_SWEEPER = zlib.crc32(b"campaigns:journeys")
"""The date sweep's lock: one replica sweeps at a time."""

_ACTIVE_CAMPAIGNS = text("SELECT id FROM campaigns.campaigns WHERE status = 'active'")

# The active campaigns as a list, not a join: joined, a planner that misjudges how many
# campaigns are active sorts every due enrollment each pass instead of reading the due index.
_DUE = text(
    """
    SELECT e.id, e.tenant_id, e.campaign_id, e.version, e.contact_id, e.address, e.step, e.event_id,
           e.waiting, e.facts,
           (SELECT c.announce_enrollments FROM campaigns.campaigns AS c
            WHERE c.id = e.campaign_id) AS announce_enrollments,
           (SELECT c.event_attributes FROM campaigns.campaigns AS c
            WHERE c.id = e.campaign_id) AS event_attributes
    FROM campaigns.enrollments AS e
    WHERE e.status = 'active' AND e.next_run_at <= :now
      AND e.campaign_id = ANY(CAST(:campaign_ids AS uuid[]))
    ORDER BY e.next_run_at
    LIMIT :batch
    FOR UPDATE OF e SKIP LOCKED
    """
)

_NEXT_DUE = text(
    """
    SELECT min(e.next_run_at) FROM campaigns.enrollments AS e
    WHERE e.status = 'active'
      AND EXISTS (SELECT 1 FROM campaigns.campaigns AS c
                  WHERE c.id = e.campaign_id AND c.status = 'active')
    """
)

_SEND_COLUMNS = {
    "id": "uuid",
    "tenant_id": "uuid",
    "idempotency_key": "text",
    "contact_id": "uuid",
    "to_address": "text",
    "channel": "text",
    "from_address": "text",
    "body": "text",
    "priority": "smallint",
    "requested_at": "timestamptz",
    "due_at": "timestamptz",
    "time_zone": "text",
    "status": "text",
    "reason": "text",
    "campaign_id": "uuid",
    "enrollment_id": "uuid",
    "step": "integer",
    "sent_at": "timestamptz",
}
"""A campaign step's send, column by column (only our own names are formatted in)."""

_PLAN_SENDS = text(
    f"""
    INSERT INTO campaigns.scheduled_sends ({", ".join(_SEND_COLUMNS)})
    SELECT * FROM unnest(
        {", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _SEND_COLUMNS.items())}
    )
    """  # noqa: S608
)

_MOVE = text(
    """
    UPDATE campaigns.enrollments AS e
    SET step = m.step, waiting = m.waiting, next_run_at = m.next_run_at, status = m.status,
        reason = m.reason, ended_at = m.ended_at
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:steps AS integer[]), CAST(:waitings AS text[]),
        CAST(:next_run_ats AS timestamptz[]), CAST(:statuses AS text[]),
        CAST(:reasons AS text[]), CAST(:ended_ats AS timestamptz[])
    ) AS m(id, step, waiting, next_run_at, status, reason, ended_at)
    WHERE e.id = m.id AND e.id = ANY(CAST(:ids AS uuid[]))
    """
)
"""Where each enrollment of a pass is now, ended ones included (one statement for all)."""

_CONTACTS = text(
    """
    SELECT tenant_id, address, display_name, time_zone, attributes, blocked, number_zone, region
    FROM campaigns.contacts
    WHERE tenant_id = ANY(CAST(:tenant_ids AS uuid[])) AND address = ANY(CAST(:addresses AS text[]))
    """
)


@dataclass
class Progress:
    """Where one pass leaves an enrollment, and what it did on the way."""

    step: int
    waiting: str | None = None
    next_run_at: datetime | None = None
    ended: tuple[str, str] | None = None
    """(`completed` or `exited`, why) when it left the campaign."""
    sends: list[dict[str, Any]] = field(default_factory=list)
    questions: list[dict[str, Any]] = field(default_factory=list)
    """For the agent: the decisions a composed send step asks for."""
    path: list[tuple[int, str, str | None, UUID | None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Context:
    """What the steps of one enrollment read."""

    now: datetime
    zone: ZoneInfo
    window: SendWindow
    facts: dict[str, Any]
    left: str | None = None
    """Why the contact is to leave before any step (blocked, opted out)."""
    quota: str | None = None
    """Why the contact's sends are skipped for now (billing's quota), when they are."""


class JourneyRunner:
    def __init__(
        self, db: Database, clock: Clock, *, batch: int = 1000, poll_seconds: float = 1.0
    ) -> None:
        self.db = db
        self.clock = clock
        self.batch = batch
        self.poll_seconds = poll_seconds
        self._versions: dict[tuple[UUID, int], list[Step]] = {}
        self._swept_at: datetime | None = None
        self._wakeup = Wakeup(db.url, JOURNEY_CHANNEL)
        self.outbox = Outbox(outbox)

    async def run(self) -> None:
        """Advance what is due and enroll audiences (a chunk each turn), forever; sweep the date
        triggers when idle."""

        async def work() -> bool:
            enrolled = await jobs.enroll_next_chunk(self.db, self.clock.now())
            return await self.advance_due() > 0 or enrolled

        async def idle() -> float:
            await self.sweep_dates()
            return await self._until_next_due()

        await run_passes("journeys", self._wakeup, work, idle, retry_seconds=self.poll_seconds)

    async def advance_due(self) -> int:
        """One pass over the enrollments due now; how many moved."""
        started = perf_counter()
        async with self.db.transaction() as session:
            now = self.clock.now()
            active = list((await session.scalars(_ACTIVE_CAMPAIGNS)).all())
            if not active:
                return 0
            parameters = {"now": now, "batch": self.batch, "campaign_ids": active}
            rows = list((await session.execute(_DUE, parameters)).all())
            if not rows:
                return 0
            contacts = await _contacts(session, rows)
            recipients = {(r.tenant_id, r.address) for r in rows}
            opted_out = await opted_out_of(session, recipients)
            stopped = await stopped_by_quota(session, recipients)
            policies: dict[UUID, Policy] = {}
            for tenant_id in {row.tenant_id for row in rows}:
                policies[tenant_id] = await policy_service.get(session, tenant_id)
            path = Path()
            sends: list[dict[str, Any]] = []
            questions: list[dict[str, Any]] = []
            moves: dict[str, list[Any]] = {
                name: []
                for name in (
                    "ids",
                    "steps",
                    "waitings",
                    "next_run_ats",
                    "statuses",
                    "reasons",
                    "ended_ats",
                )
            }
            ended: list[tuple[AnyEvent, bytes | None]] = []
            for row in rows:
                steps = await self._steps(session, row.campaign_id, row.version)
                contact = contacts.get((row.tenant_id, row.address))
                context = self._context(row, contact, policies, now)
                if (row.tenant_id, row.address) in opted_out:
                    context = replace(context, left="the contact opted out")
                if (quota := stopped.get((row.tenant_id, row.address))) is not None:
                    context = replace(context, quota=quota)
                progress = self._advance(row, steps, context)
                for step, outcome, detail, send_id in progress.path:
                    path.add(row.tenant_id, row.campaign_id, row.id, step, outcome, now,
                             detail=detail, send_id=send_id)  # fmt: skip
                sends += progress.sends
                questions += progress.questions
                status, reason, ended_at = "active", None, None
                if progress.ended is not None:
                    (status, reason), ended_at = progress.ended, now
                    progress.waiting, progress.next_run_at = None, None
                    path.add(row.tenant_id, row.campaign_id, row.id, progress.step, status, now,
                             detail=reason)  # fmt: skip
                    if row.announce_enrollments:
                        ended.append(
                            ended_event(row.tenant_id, row.campaign_id, row.id, row.address, reason)
                        )
                moved = (row.id, progress.step, progress.waiting, progress.next_run_at, status,
                         reason, ended_at)  # fmt: skip
                for column, value in zip(moves.values(), moved, strict=True):
                    column.append(value)
            handed = [s for s in sends if _now_and_uncapped(s, now, policies[s["tenant_id"]])]
            for send in handed:
                send.update(status="sent", sent_at=now)
            if sends:
                columns = {name: [send[name] for send in sends] for name in _SEND_COLUMNS}
                await session.execute(_PLAN_SENDS, columns)
            await self.outbox.add_many(session, [_handed(send) for send in handed])
            metrics.SCHEDULED_SENDS.labels("sent").inc(len(handed))
            await ask(session, questions)
            await session.execute(_MOVE, moves)
            await path.write(session)
            await self.outbox.add_many(session, ended)
        metrics.JOURNEY_STEPS.labels("advanced").inc(len(rows))
        metrics.PASS_DURATION.labels("journeys").observe(perf_counter() - started)
        return len(rows)

    async def sweep_dates(self) -> int:
        """Enroll the contacts whose date-triggered campaigns start within a day (at most once a
        minute); how many entered."""
        now = self.clock.now()
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY:
            return 0
        entered = 0
        async with self.db.transaction() as session:
            if not await session.scalar(text(f"SELECT pg_try_advisory_xact_lock({_SWEEPER})")):
                return 0
            statement = select(Campaign).where(
                Campaign.status == "active", Campaign.trigger["type"].astext == "date"
            )
            for campaign in (await session.scalars(statement)).all():
                entered += await self._sweep(session, campaign, now)
        self._swept_at = now
        return entered

    async def _sweep(self, session: AsyncSession, campaign: Campaign, now: datetime) -> int:
        trigger = parse_trigger(campaign.trigger)
        assert isinstance(trigger, DateTrigger)
        policy = await policy_service.get(session, campaign.tenant_id)
        statement = select(Contact).where(
            Contact.tenant_id == campaign.tenant_id,
            Contact.blocked.is_(False),
            Contact.attributes.has_key(trigger.attribute),
        )
        candidates = []
        for contact in (await session.scalars(statement)).all():
            day = _date(contact.attributes.get(trigger.attribute))
            if day is None:
                continue
            zone, _ = policy.place(contact.address, contact)
            start = _local(day + timedelta(days=trigger.offset_days), trigger.at, zone)
            if not now - timedelta(days=1) <= start <= now + timedelta(days=1):
                continue
            candidates.append(
                Candidate(
                    address=contact.address,
                    contact_id=contact.contact_id,
                    facts={"type": "date", "date": day.isoformat()},
                    event_id=uuid5(campaign.id, f"{contact.address}:{day.isoformat()}"),
                    start_at=max(start, now),
                )
            )
        return len(await enroll(session, campaign, candidates, now))

    def _context(
        self,
        row: Row[Any],
        contact: Row[Any] | None,
        policies: dict[UUID, Policy],
        now: datetime,
    ) -> Context:
        zone, window = policies[row.tenant_id].place(row.address, contact)
        facts = {"event": dict(row.facts), "contact": contact_facts(row.address, contact)}
        left = "the contact is blocked" if contact is not None and contact.blocked else None
        return Context(now, zone, window, facts, left)

    def _advance(self, row: Row[Any], steps: Sequence[Step], context: Context) -> Progress:
        """Take the enrollment through its steps from where it is, until it waits or leaves."""
        position = row.step
        progress = Progress(step=position)
        if context.left is not None:
            progress.ended = ("exited", context.left)
            return progress
        if row.waiting in ("time", "agent"):  # the agent moves on with `time`; `agent`: not reached
            position += 1
        elif row.waiting == "reply":
            timed_out = steps[position]
            assert isinstance(timed_out, WaitForReplyStep)
            progress.path.append((position, "timed_out", None, None))
            position = jump(steps, timed_out.on_timeout, position + 1)
        base = context.now  # waits count from the last send's due time, when later
        for _ in range(2 * len(steps) + 2):  # steps cannot loop without a wait (checked)
            progress.step = position
            if position >= len(steps):
                progress.ended = ("completed", "completed")
                return progress
            step = steps[position]
            if isinstance(step, SendStep) and step.compose is not None:
                progress.questions.append(self._question(row, position, step.compose, context))
                progress.waiting, progress.next_run_at = "agent", None
                progress.path.append((position, "composing", None, None))
                return progress
            if isinstance(step, SendStep):
                send = self._send(row, position, step, context)
                outcome = "scheduled" if send["status"] == "scheduled" else "skipped"
                progress.path.append((position, outcome, send["reason"], send["id"]))
                progress.sends.append(send)
                base = max(base, send["due_at"])
                position += 1
            elif isinstance(step, WaitStep):
                if step.seconds is not None:
                    progress.next_run_at = base + timedelta(seconds=step.seconds)
                else:
                    assert step.until is not None
                    progress.next_run_at = next_local_time(
                        base, context.zone, step.until, weekdays=step.weekdays
                    )
                progress.waiting = "time"
                progress.path.append((position, "waiting", None, None))
                return progress
            elif isinstance(step, BranchStep):
                holds = evaluate(step.condition, context.facts)
                progress.path.append((position, "branched" if holds else "passed", None, None))
                position = jump(steps, step.goto, position + 1) if holds else position + 1
            elif isinstance(step, WaitForReplyStep):
                progress.next_run_at = base + timedelta(seconds=step.timeout_seconds)
                progress.waiting = "reply"
                progress.path.append((position, "waiting_reply", None, None))
                return progress
            else:
                assert isinstance(step, ExitStep)
                progress.ended = ("exited", f"exit at step {position + 1}")
                return progress
        raise RuntimeError(f"enrollment {row.id} did not settle")  # unreachable when checked

    def _question(
        self, row: Row[Any], position: int, compose: Compose, context: Context
    ) -> dict[str, Any]:
        """The agent's decision a composed send step asks for, due now."""
        now = context.now
        return {
            "tenant_id": row.tenant_id,
            "idempotency_key": f"enrollment:{row.id}:step:{position}:{now.isoformat()}",
            "campaign_id": row.campaign_id,
            "enrollment_id": row.id,
            "step": position,
            "event_id": row.event_id,
            "contact_id": row.contact_id,
            "to_address": row.address,
            "channel": "sms",
            "from_address": None,
            "priority": CAMPAIGN_PRIORITY,
            "compose": compose.model_dump(mode="json"),
            "facts": dict(row.facts),
            "due_at": now,
            "created_at": now,
        }

    def _send(
        self, row: Row[Any], position: int, step: SendStep, context: Context
    ) -> dict[str, Any]:
        now = context.now
        send: dict[str, Any] = {
            "id": uuid5(row.id, f"{position}:{now.isoformat()}"),
            "tenant_id": row.tenant_id,
            "idempotency_key": f"enrollment:{row.id}:step:{position}:{now.isoformat()}",
            "contact_id": row.contact_id,
            "to_address": row.address,
            "channel": "sms",
            "from_address": None,
            "body": "",
            "priority": CAMPAIGN_PRIORITY,
            "requested_at": now,
            "due_at": now,
            "time_zone": context.zone.key,
            "status": "scheduled",
            "reason": None,
            "campaign_id": row.campaign_id,
            "enrollment_id": row.id,
            "step": position,
            "sent_at": None,
        }
        try:
            assert step.template is not None  # a composed step asks the agent instead
            template = compile_rule_template(step.template, row.event_attributes)
            send["body"] = render(template, {**context.facts, "now": now})
        except TemplateError as error:
            send.update(status="skipped", reason=f"template: {error}")
            return send
        if context.quota is not None:
            send.update(status="skipped", reason=context.quota)
            return send
        due, reason = hold(now, context.zone, context.window)
        send.update(due_at=due, reason=reason)
        return send

    async def _steps(self, session: AsyncSession, campaign_id: UUID, version: int) -> list[Step]:
        key = (campaign_id, version)
        if key not in self._versions:
            stored = await session.get(CampaignVersion, (campaign_id, version))
            assert stored is not None, f"campaign {campaign_id} has no version {version}"
            self._versions[key] = parse_steps(stored.steps)
        return self._versions[key]

    async def _until_next_due(self) -> float:
        async with self.db.reads() as session:
            due: datetime | None = await session.scalar(_NEXT_DUE)
        if due is None:
            return self.poll_seconds
        return max(0.0, min(self.poll_seconds, (due - self.clock.now()).total_seconds()))


async def _contacts(
    session: AsyncSession, rows: Sequence[Row[Any]]
) -> dict[tuple[UUID, str], Row[Any]]:
    """The replica's contacts of these enrollments (a superset, filtered by the caller)."""
    parameters = {
        "tenant_ids": sorted({row.tenant_id for row in rows}),
        "addresses": sorted({row.address for row in rows}),
    }
    found = await session.execute(_CONTACTS, parameters)
    return {(c.tenant_id, c.address): c for c in found}


def _now_and_uncapped(send: dict[str, Any], now: datetime, policy: Policy) -> bool:
    """Whether a send can go to the gateway at once, from the runner's own transaction: due now
    (not held for quiet hours, not skipped) and its tenant has no frequency cap (which only the
    scheduler, one pass at a time, can count exactly). Anything else waits for the scheduler."""
    return send["status"] == "scheduled" and send["due_at"] <= now and policy.frequency_cap is None


def _handed(send: dict[str, Any]) -> tuple[AnyEvent, bytes | None]:
    return message_request(
        send["id"],
        send["tenant_id"],
        send["channel"],
        send["to_address"],
        None,
        send["body"],
        send["campaign_id"],
    )


def _date(value: object) -> date | None:
    """An ISO date (or the date of an ISO date and time) from a contact attribute."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`at` on `day` on a clock in `zone` (the first such moment; the jump for a skipped one)."""
    midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    return next_local_time(midnight, zone, at)
