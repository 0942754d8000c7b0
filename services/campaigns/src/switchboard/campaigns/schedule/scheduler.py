"""The scheduler: due sends leave for `messages.outbound`, each once, on time, fairly.

The due table is `scheduled_sends` itself (see docs/architecture.md, "The schedule"). One pass,
in one transaction:

1. take the leader lock (a transaction-scoped advisory lock: one replica passes at a time, so
   frequency caps count every send; the others wait on standby);
2. take the due rows, `FOR UPDATE SKIP LOCKED` (a send an operator is cancelling right now is
   left to them), up to `per_tenant` per tenant and priority: a tenant with 100,000 sends due
   does not hold back another's one, and a rule's message goes before a campaign's bulk;
3. check each again: to a contact who opted out, or whom billing's quota stops (their tenant's
   messages used up or its account suspended, or their own: `entitlements.py`), it is skipped
   with the reason; outside its send window now (the policy changed since it was planned) it
   is held until the window opens, never sent early; over the contact's frequency cap it is
   skipped with the reason;
4. queue the rest in the outbox as `message.requested` and mark them sent.

A crash before the commit leaves the rows scheduled; after it, the outbox has them: no send is
lost or doubled, whichever replica runs next. Between passes the scheduler sleeps until the
next send is due, at most `poll_seconds`, and wakes at once when a send is scheduled (NOTIFY).
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns import metrics
from switchboard.campaigns.entitlements import stopped_by_quota
from switchboard.campaigns.models import outbox
from switchboard.campaigns.policy.service import Policy, policy_service
from switchboard.campaigns.schedule.clock import Clock
from switchboard.campaigns.schedule.retention import purge
from switchboard.campaigns.timing import hold, is_allowed
from switchboard.common.db import Database
from switchboard.common.notify import Wakeup, run_passes
from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    AnyEvent,
    Channel,
    MessageRequested,
    MessageRequestedData,
    contact_key,
)

log = structlog.get_logger(__name__)

SCHEDULE_CHANNEL = "campaigns_schedule"
PURGE_EVERY = timedelta(hours=1)
_LEADER = zlib.crc32(b"campaigns:scheduler")

# Tenants with anything scheduled, by a loose index scan (one probe per tenant), then each
# tenant's due sends per priority, oldest first, from the same partial index.
_DUE = text(
    """
    WITH RECURSIVE tenants AS (
        (SELECT tenant_id FROM campaigns.scheduled_sends
         WHERE status = 'scheduled' ORDER BY tenant_id LIMIT 1)
        UNION ALL
        SELECT (SELECT s.tenant_id FROM campaigns.scheduled_sends AS s
                WHERE s.status = 'scheduled' AND s.tenant_id > t.tenant_id
                ORDER BY s.tenant_id LIMIT 1)
        FROM tenants AS t WHERE t.tenant_id IS NOT NULL
    )
    SELECT due.* FROM tenants
    CROSS JOIN (VALUES (0), (1)) AS p(priority)
    CROSS JOIN LATERAL (
        SELECT s.id, s.tenant_id, s.to_address, s.channel, s.from_address, s.body,
               s.time_zone, s.due_at, s.campaign_id
        FROM campaigns.scheduled_sends AS s
        WHERE s.tenant_id = tenants.tenant_id AND s.priority = p.priority
          AND s.status = 'scheduled' AND s.due_at <= :now
        ORDER BY s.due_at, s.id
        LIMIT :per_tenant
        FOR UPDATE SKIP LOCKED
    ) AS due
    WHERE tenants.tenant_id IS NOT NULL
    """
)

_OPTED_OUT = text(
    """
    SELECT tenant_id, address FROM campaigns.opt_outs
    WHERE opted_out AND tenant_id = ANY(CAST(:tenant_ids AS uuid[]))
      AND address = ANY(CAST(:addresses AS text[]))
    """
)

_NEXT_DUE = text("SELECT min(due_at) FROM campaigns.scheduled_sends WHERE status = 'scheduled'")

_RECENT = text(
    """
    SELECT to_address, count(*) AS sent FROM campaigns.scheduled_sends
    WHERE tenant_id = :tenant_id AND status = 'sent'
      AND to_address = ANY(CAST(:addresses AS text[])) AND sent_at > :since
    GROUP BY to_address
    """
)

_SENT = text(
    """
    UPDATE campaigns.scheduled_sends
    SET status = 'sent', sent_at = :now, updated_at = now()
    WHERE id = ANY(CAST(:ids AS uuid[]))
    """
)

_HELD_OR_SKIPPED = text(
    """
    UPDATE campaigns.scheduled_sends AS s
    SET status = u.status, due_at = u.due_at, reason = u.reason, updated_at = now()
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:due_ats AS timestamptz[]),
        CAST(:reasons AS text[])
    ) AS u(id, status, due_at, reason)
    WHERE s.id = u.id AND s.id = ANY(CAST(:ids AS uuid[]))
    """
)


@dataclass(frozen=True, slots=True)
class Pass:
    """What one pass did."""

    sent: int = 0
    held: int = 0
    skipped: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.held + self.skipped


class Scheduler:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        per_tenant: int = 1000,
        poll_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.per_tenant = per_tenant
        self.poll_seconds = poll_seconds
        self.outbox = Outbox(outbox)
        self._wakeup = Wakeup(db.url, SCHEDULE_CHANNEL)

    async def run(self) -> None:
        """Send what is due, forever; purge what is past its retention once an hour."""
        purged_at: datetime | None = None

        async def work() -> bool:
            return (await self.send_due()).handled > 0

        async def idle() -> float:
            nonlocal purged_at
            now = self.clock.now()
            if purged_at is None or now - purged_at >= PURGE_EVERY:
                await self.purge()
                purged_at = now
            return await self._until_next_due()

        await run_passes("scheduler", self._wakeup, work, idle, retry_seconds=self.poll_seconds)

    async def send_due(self) -> Pass:
        """One pass over the sends due now (see the module's docstring)."""
        started = time.perf_counter()
        async with self.db.transaction() as session:
            leader = await session.scalar(text(f"SELECT pg_try_advisory_xact_lock({_LEADER})"))
            if not leader:
                return Pass()
            now = self.clock.now()
            parameters = {"now": now, "per_tenant": self.per_tenant}
            rows = list((await session.execute(_DUE, parameters)).all())
            if not rows:
                return Pass()
            policies = {
                t: await policy_service.get(session, t) for t in {r.tenant_id for r in rows}
            }
            sent_before = await _recent_sends(session, rows, policies, now)
            recipients = {(r.tenant_id, r.to_address) for r in rows}
            opted_out = await opted_out_of(session, recipients)
            stopped = await stopped_by_quota(session, recipients)
            sending: list[Row[Any]] = []
            changed: dict[str, list[Any]] = {
                "ids": [],
                "statuses": [],
                "due_ats": [],
                "reasons": [],
            }
            for row in rows:
                policy = policies[row.tenant_id]
                zone = ZoneInfo(row.time_zone)
                window = policy.window_for(row.to_address)
                verdict: tuple[str, datetime, str] | None = None
                if (row.tenant_id, row.to_address) in opted_out:
                    verdict = ("skipped", row.due_at, "the contact opted out")
                elif (quota := stopped.get((row.tenant_id, row.to_address))) is not None:
                    verdict = ("skipped", row.due_at, quota)
                elif not is_allowed(now, zone, window):
                    opens, reason = hold(now, zone, window)
                    verdict = ("scheduled", opens, reason or "")
                elif policy.frequency_cap is not None:
                    key = (row.tenant_id, row.to_address)
                    if sent_before[key] >= policy.frequency_cap.max_messages:
                        cap = policy.frequency_cap
                        reason = (
                            f"frequency cap: {cap.max_messages} per {cap.period_hours} h "
                            f"already reached"
                        )
                        verdict = ("skipped", row.due_at, reason)
                    else:
                        sent_before[key] += 1
                if verdict is None:
                    sending.append(row)
                    continue
                for name, value in zip(changed, (row.id, *verdict), strict=True):
                    changed[name].append(value)
            if changed["ids"]:
                await session.execute(_HELD_OR_SKIPPED, changed)
            if sending:
                await session.execute(_SENT, {"ids": [r.id for r in sending], "now": now})
                await self.outbox.add_many(session, [_request(row) for row in sending])
        skipped = changed["statuses"].count("skipped")
        done = Pass(sent=len(sending), held=len(changed["ids"]) - skipped, skipped=skipped)
        for outcome in ("sent", "held", "skipped"):
            metrics.SCHEDULED_SENDS.labels(outcome).inc(getattr(done, outcome))
        metrics.PASS_DURATION.labels("scheduler").observe(time.perf_counter() - started)
        return done

    async def purge(self) -> int:
        """Delete what is past its retention (`schedule/retention.py`), in batches; how many rows
        went."""
        purged = 0
        while True:
            async with self.db.transaction() as session:
                done = await purge(session, self.clock.now())
            purged += done
            if done == 0:
                return purged

    async def _until_next_due(self) -> float:
        async with self.db.reads() as session:
            due: datetime | None = await session.scalar(_NEXT_DUE)
        if due is None:
            return self.poll_seconds
        return max(0.0, min(self.poll_seconds, (due - self.clock.now()).total_seconds()))


async def opted_out_of(
    session: AsyncSession, recipients: Iterable[tuple[UUID, str]]
) -> set[tuple[UUID, str]]:
    """Which of these (tenant, address) recipients opted out."""
    wanted = set(recipients)
    parameters = {
        "tenant_ids": sorted({tenant_id for tenant_id, _ in wanted}),
        "addresses": sorted({address for _, address in wanted}),
    }
    return {(r.tenant_id, r.address) for r in await session.execute(_OPTED_OUT, parameters)}


async def _recent_sends(
    session: AsyncSession, rows: list[Row[Any]], policies: dict[UUID, Policy], now: datetime
) -> Counter[tuple[UUID, str]]:
    """Sends each contact already got within their tenant's frequency period."""
    counts: Counter[tuple[UUID, str]] = Counter()
    for tenant_id, policy in policies.items():
        cap = policy.frequency_cap
        if cap is None:
            continue
        addresses = sorted({r.to_address for r in rows if r.tenant_id == tenant_id})
        sent = await sent_since(session, tenant_id, addresses, now - cap.period)
        for address, count in sent.items():
            counts[tenant_id, address] = count
    return counts


async def sent_since(
    session: AsyncSession, tenant_id: UUID, addresses: list[str], since: datetime
) -> dict[str, int]:
    """How many proactive messages each of these addresses was sent since `since`."""
    parameters = {"tenant_id": tenant_id, "addresses": addresses, "since": since}
    return {found.to_address: found.sent for found in await session.execute(_RECENT, parameters)}


def message_request(
    send_id: UUID,
    tenant_id: UUID,
    channel: Channel,
    to_address: str,
    from_address: str | None,
    body: str,
    campaign_id: UUID | None = None,
) -> tuple[AnyEvent, bytes | None]:
    """A send handed to the gateway: `message.requested`, keyed by its recipient, its
    idempotency key naming the send (so its statuses find their way back), and the campaign
    that planned it (a rule's send has none), which its costs are attributed to."""
    data = MessageRequestedData(
        idempotency_key=f"campaigns:{send_id}",
        origin="campaign",
        priority="bulk",
        channel=channel,
        to_address=to_address,
        from_address=from_address,
        body=body,
        campaign_id=campaign_id,
    )
    return MessageRequested.create(tenant_id, data), contact_key(tenant_id, to_address)


def _request(row: Row[Any]) -> tuple[AnyEvent, bytes | None]:
    return message_request(
        row.id,
        row.tenant_id,
        row.channel,
        row.to_address,
        row.from_address,
        row.body,
        row.campaign_id,
    )
