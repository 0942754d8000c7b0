"""The agent runner: asks the agent about each decision that falls due, concurrently, and acts on
what it decides, once.

`agent_decisions` is its due table. A worker claims due decisions (`FOR UPDATE SKIP LOCKED`,
marking them `deciding` with a lease), reads each contact's situation, and calls the model for
up to `concurrency` decisions at a time, outside any transaction. Each answer is then settled in
a transaction of its own, fenced by the attempt it was claimed with (a decision whose lease ran
out and was taken again is settled once, by its latest holder):

- SEND is checked before anything is scheduled: the contact blocked or opted out, billing's
  quota (messages used up, an account suspended), an enrollment that has left its step, a
  campaign no longer active, or a frequency cap already reached skip it, with the reason;
  otherwise the message is scheduled like any other send (held out of quiet hours, and checked
  again by the scheduler when it goes). With `require_approval` it waits for an operator
  instead (`agent/service.py`).
- SKIP records the reasoning and sends nothing.
- DELAY asks again later, in a new decision that follows this one, at most `MAX_DELAYS` times.

A model that fails (every provider down) or gives no valid decision is tried again after a
backoff, `MAX_ATTEMPTS` times in all; then the decision is `failed` and nothing is sent. An
enrollment waiting on a decision moves on once it is settled (sent or not), from the send's due
time, as after any send step. Every model call's tokens are published on `usage`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns import metrics
from switchboard.campaigns.agent.agent import Agent, Outcome
from switchboard.campaigns.agent.compose import Compose
from switchboard.campaigns.agent.service import ask, move_on, record, refusal, schedule
from switchboard.campaigns.agent.situation import Situation, situation
from switchboard.campaigns.models import outbox
from switchboard.campaigns.policy.service import policy_service
from switchboard.campaigns.schedule.clock import Clock
from switchboard.common.db import Database
from switchboard.common.notify import Wakeup, run_passes
from switchboard.common.outbox import Outbox
from switchboard.contracts import AnyEvent, UsageRecorded, UsageRecordedData, tenant_key
from switchboard.llm import AllProvidersFailed, PriceTable, UnpricedModelError

log = structlog.get_logger(__name__)

AGENT_CHANNEL = "campaigns_agent"
MAX_ATTEMPTS = 3
MAX_DELAYS = 3
LEASE = timedelta(minutes=5)
"""How long a claimed decision is held before another worker may take it (a crashed worker's)."""
RETRY_AFTER = timedelta(minutes=1)
"""The first retry's wait after a failed attempt; each further one waits twice as long."""

_CLAIM = text(
    """
    UPDATE campaigns.agent_decisions AS d
    SET status = 'deciding', lease_until = :lease_until, attempts = d.attempts + 1
    WHERE d.id IN (
        SELECT c.id FROM campaigns.agent_decisions AS c
        WHERE c.status IN ('pending', 'deciding') AND c.due_at <= :now
          AND (c.status = 'pending' OR c.lease_until < :now)
          AND (c.campaign_id IS NULL OR EXISTS (
              SELECT 1 FROM campaigns.campaigns AS k
              WHERE k.id = c.campaign_id AND k.status = 'active'))
        ORDER BY c.due_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING d.id, d.tenant_id, d.attempts, d.delays, d.rule_id, d.rule_version, d.event_id,
              d.campaign_id, d.enrollment_id, d.step, d.contact_id, d.to_address, d.channel,
              d.from_address, d.priority, d.compose, d.facts, d.idempotency_key
    """
)

_HELD = text(
    """
    SELECT * FROM campaigns.agent_decisions
    WHERE id = :id AND status = 'deciding' AND attempts = :attempts
    FOR UPDATE
    """
)

_SOURCE = text(
    """
    SELECT name FROM campaigns.rules WHERE id = :rule_id
    UNION ALL
    SELECT name FROM campaigns.campaigns WHERE id = :campaign_id
    """
)

_NEXT_DUE = text(
    """
    SELECT min(CASE WHEN c.status = 'pending' THEN c.due_at ELSE c.lease_until END)
    FROM campaigns.agent_decisions AS c
    WHERE c.status IN ('pending', 'deciding')
      AND (c.campaign_id IS NULL OR EXISTS (
          SELECT 1 FROM campaigns.campaigns AS k
          WHERE k.id = c.campaign_id AND k.status = 'active'))
    """
)
"""When the next decision may be claimed: a pending one's due time, or when a held one's lease
runs out (a paused campaign's wait for it to resume)."""


@dataclass(frozen=True, slots=True)
class Claimed:
    row: Row[Any]
    compose: Compose


class AgentRunner:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        agent: Agent,
        prices: PriceTable,
        *,
        concurrency: int = 32,
        poll_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.agent = agent
        self.prices = prices
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.outbox = Outbox(outbox)
        self._wakeup = Wakeup(db.url, AGENT_CHANNEL)
        self._running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Decide what is due, `concurrency` at a time, forever."""
        try:
            await run_passes(
                "agent", self._wakeup, self._fill, self._until_next_due,
                retry_seconds=self.poll_seconds,
            )  # fmt: skip
        finally:
            for task in self._running:
                task.cancel()

    async def _fill(self) -> bool:
        """Start deciding what is due, as far as free slots allow (waiting for one when none
        is free); whether anything started or finished."""
        if len(self._running) >= self.concurrency:
            await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
            return True
        claimed = await self.claim(self.concurrency - len(self._running))
        for one in claimed:
            task = asyncio.create_task(self.decide_one(one))
            self._running.add(task)
            task.add_done_callback(self._finished)
        return bool(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("agent.decision_failed", error=repr(task.exception()))
        self._wakeup.set()

    async def decide_due(self) -> int:
        """Claim and decide everything due now, waiting for all of it (a pass, for tests and
        benchmarks); how many were decided."""
        claimed = await self.claim(self.concurrency)
        await asyncio.gather(*(self.decide_one(one) for one in claimed))
        return len(claimed)

    async def claim(self, limit: int) -> list[Claimed]:
        now = self.clock.now()
        async with self.db.transaction() as session:
            parameters = {"now": now, "lease_until": now + LEASE, "limit": limit}
            rows = (await session.execute(_CLAIM, parameters)).all()
        return [Claimed(row, Compose.model_validate(row.compose)) for row in rows]

    async def decide_one(self, claimed: Claimed) -> None:
        """Ask the agent about one claimed decision and settle what it says."""
        row = claimed.row
        async with self.db.reads() as session:
            policy = await policy_service.get(session, row.tenant_id)
            known = await situation(
                session, row, policy, self.clock.now(), await _source(session, row)
            )
        try:
            outcome = await self.agent.decide(claimed.compose, known)
        except AllProvidersFailed as error:
            outcome = Outcome(error=f"no model answered: {error}")
        async with self.db.transaction() as session:
            await self._settle(session, claimed, known, outcome)

    async def _settle(
        self, session: AsyncSession, claimed: Claimed, known: Situation, outcome: Outcome
    ) -> None:
        fence = {"id": claimed.row.id, "attempts": claimed.row.attempts}
        held = (await session.execute(_HELD, fence)).first()
        if held is None:  # its lease ran out and another worker took it
            return
        now = self.clock.now()
        calls = outcome.calls
        cost = sum(
            (self._cost(c.model, c.input_tokens, c.output_tokens) for c in calls), Decimal(0)
        )
        values: dict[str, Any] = {
            "tool_calls": outcome.trace,
            "latency_ms": outcome.latency_ms,
            "input_tokens": held.input_tokens + sum(c.input_tokens for c in calls),
            "output_tokens": held.output_tokens + sum(c.output_tokens for c in calls),
            "cost": held.cost + cost,
            "lease_until": None,
        }
        if outcome.calls:
            values.update(provider=outcome.calls[-1].provider, model=outcome.calls[-1].model)
        await self.outbox.add_many(session, self._usage(held, outcome))
        decision = outcome.decision
        if decision is None:
            values["error"] = outcome.error
            if held.attempts < MAX_ATTEMPTS:
                values.update(status="pending", due_at=now + RETRY_AFTER * 2 ** (held.attempts - 1))
                metrics.AGENT_DECISIONS.labels("retried").inc()
                await record(session, held.id, values)
                return
            values.update(status="failed", decided_at=now, outcome=f"failed: {outcome.error}")
            metrics.AGENT_DECISIONS.labels("failed").inc()
            await record(session, held.id, values)
            await move_on(session, held, now, "skipped", values["outcome"], None)
            return
        values.update(
            action=decision.action,
            message=decision.message,
            reasoning=decision.reasoning,
            confidence=decision.confidence,
            delay_minutes=decision.delay_minutes,
            decided_at=now,
            error=None,
        )
        metrics.AGENT_DECISIONS.labels(decision.action.lower()).inc()
        if decision.action == "SKIP":
            values.update(status="decided", outcome="skipped: the agent decided not to send")
        elif decision.action == "DELAY":
            assert decision.delay_minutes is not None
            values.update(status="decided")
            if held.delays >= MAX_DELAYS:
                values["outcome"] = f"skipped: delayed {MAX_DELAYS} times already"
            else:
                again = now + timedelta(minutes=decision.delay_minutes)
                values["outcome"] = f"delayed: decided again at {again.isoformat()}"
                await _follow_up(session, held, again, now)
                await record(session, held.id, values)
                return
        else:
            assert decision.message is not None
            refused = await refusal(session, held, known.blocked, now)
            if refused is not None:
                values.update(status="decided", outcome=f"skipped: {refused}")
            elif claimed.compose.require_approval:
                values.update(status="awaiting_approval", outcome="awaiting approval")
                await record(session, held.id, values)
                return
            else:
                send_id, due, reason = await schedule(
                    session, held, decision.message, known.zone, known.window, now
                )
                said = f"scheduled, {reason}" if reason else "scheduled"
                values.update(status="decided", send_id=send_id, outcome=said)
                await record(session, held.id, values)
                await move_on(session, held, due, "scheduled", None, send_id)
                return
        await record(session, held.id, values)
        await move_on(session, held, now, "skipped", values["outcome"], None)

    def _cost(self, model: str, input_tokens: int, output_tokens: int) -> Decimal:
        try:
            return self.prices.cost(model, input_tokens=input_tokens, output_tokens=output_tokens)
        except UnpricedModelError:  # checked at start for every configured model
            return Decimal(0)

    def _usage(self, held: Row[Any], outcome: Outcome) -> list[tuple[AnyEvent, bytes | None]]:
        events: list[tuple[AnyEvent, bytes | None]] = []
        for number, call in enumerate(outcome.calls, start=1):
            data = UsageRecordedData(
                kind="llm_tokens",
                quantity=call.input_tokens + call.output_tokens,
                cost=self._cost(call.model, call.input_tokens, call.output_tokens),
                source_id=f"llm:composition:{held.id}:{held.attempts}:{number}",
                contact_address=held.to_address,
                channel=held.channel,
                provider=call.provider,
                model=call.model,
                input_tokens=call.input_tokens,
                output_tokens=call.output_tokens,
                purpose="composition",
                campaign_id=held.campaign_id,
            )
            events.append((UsageRecorded.create(held.tenant_id, data), tenant_key(held.tenant_id)))
        return events

    async def _until_next_due(self) -> float:
        async with self.db.reads() as session:
            due: datetime | None = await session.scalar(_NEXT_DUE)
        if due is None:
            return self.poll_seconds
        return max(0.0, min(self.poll_seconds, (due - self.clock.now()).total_seconds()))


async def _source(session: AsyncSession, row: Row[Any]) -> dict[str, Any]:
    """What asks: the rule (name, version) or the campaign (name, step)."""
    found = (
        await session.execute(_SOURCE, {"rule_id": row.rule_id, "campaign_id": row.campaign_id})
    ).first()
    name = found.name if found is not None else None
    if row.rule_id is not None:
        return {"rule": name, "rule_version": row.rule_version}
    return {"campaign": name, "step": (row.step or 0) + 1}


async def _follow_up(session: AsyncSession, held: Row[Any], due: datetime, now: datetime) -> None:
    """The decision asked again after a DELAY."""
    columns = (
        "tenant_id", "rule_id", "rule_version", "event_id", "campaign_id", "enrollment_id",
        "step", "contact_id", "to_address", "channel", "from_address", "priority", "compose",
        "facts",
    )  # fmt: skip
    values = {name: getattr(held, name) for name in columns}
    values.update(
        idempotency_key=f"delay:{held.id}",
        status="pending",
        due_at=due,
        delays=held.delays + 1,
        previous_id=held.id,
        created_at=now,
    )
    await ask(session, [values])
