"""Recording what providers answered, many sends per transaction (group commit).

A send's outcome is written with its status history and its `message.status_changed` events in
one transaction, but not one transaction per send: while a commit is in flight, the outcomes that
arrive meanwhile wait and go together in the next one. At thousands of sends a second that is the
difference between a dispatcher bound by the database's commits and one bound by the provider.

Statuses only move forward (`DELIVERY_RANK`), here as everywhere: a status callback that arrived
before the dispatcher recorded the send (Twilio can be that fast) is never overwritten.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import insert, text

from switchboard.common.db import Database, is_unavailable
from switchboard.common.grouping import Batcher
from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    DELIVERY_RANK,
    DeliveryStatus,
    MessageStatusChanged,
    contact_key,
)
from switchboard.gateway.models import MessageStatusEvent, outbox
from switchboard.gateway.outbound.status import status_data

log = structlog.get_logger(__name__)


def _rank(column: str) -> str:
    cases = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in DELIVERY_RANK.items())
    return f"(CASE {column} {cases} ELSE -1 END)"


# `before` is the row as this statement's snapshot saw it: RETURNING gives old and new status.
# Only constants are formatted into the statement (the ranks of our own statuses).
_RECORD = text(
    f"""
    WITH sent AS (
        SELECT * FROM unnest(
            CAST(:ids AS uuid[]), CAST(:providers AS text[]), CAST(:provider_ids AS text[]),
            CAST(:segments AS int[]), CAST(:prices AS numeric[]), CAST(:currencies AS text[]),
            CAST(:statuses AS text[])
        ) AS t(id, provider, provider_message_id, segments, price, currency, status)
    )
    UPDATE gateway.outbound_messages AS m
    SET provider = sent.provider,
        provider_message_id = sent.provider_message_id,
        segments = coalesce(sent.segments, m.segments),
        price = coalesce(sent.price, m.price),
        currency = coalesce(sent.currency, m.currency),
        status = CASE WHEN {_rank("sent.status")} > {_rank("m.status")}
                      THEN sent.status ELSE m.status END,
        updated_at = now()
    FROM sent, gateway.outbound_messages AS before
    WHERE m.id = sent.id AND before.id = sent.id
    RETURNING m.id, before.status AS before_status, m.status, m.tenant_id, m.idempotency_key,
              m.origin, m.channel, m.to_address, m.provider, m.provider_message_id, m.segments,
              m.price, m.currency, m.error_code, m.error_message, m.campaign_id
    """  # noqa: S608
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A provider took the message: its id there, and the statuses it went through at once."""

    message_id: UUID
    provider: str
    provider_message_id: str
    segments: int | None
    price: Decimal | None
    currency: str | None
    steps: tuple[DeliveryStatus, ...]  # ("sent",) or ("sent", "delivered") for the sandbox


class SentRecorder:
    def __init__(self, db: Database, *, max_batch: int = 500, max_flushes: int = 2) -> None:
        self.db = db
        self.outbox = Outbox(outbox)
        # A group that fails after its retries fails as a whole: the database is away, and
        # writing its sends one by one would only wait for it once per send.
        self._groups: Batcher[Outcome, None] = Batcher(
            self._write_with_retries,
            name="gateway_sent",
            max_batch=max_batch,
            max_concurrent=max_flushes,
            isolate_failures=False,
        )

    async def record(self, outcome: Outcome) -> None:
        """Returns once the outcome, its history and its events are committed."""
        await self._groups.submit(outcome)

    async def _write_with_retries(self, outcomes: list[Outcome]) -> list[None]:
        """A database that is away is waited for: the provider already took these messages."""
        for attempt in range(1, 31):
            try:
                await self._write(outcomes)
                break
            except Exception as exc:
                if is_unavailable(exc) and attempt < 30:
                    log.warning("dispatcher.record_retry", attempt=attempt, error=repr(exc))
                    await asyncio.sleep(min(5.0, 0.2 * attempt))
                    continue
                raise
        return [None] * len(outcomes)

    async def _write(self, outcomes: list[Outcome]) -> None:
        by_id = {outcome.message_id: outcome for outcome in outcomes}
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    _RECORD,
                    {
                        "ids": [o.message_id for o in outcomes],
                        "providers": [o.provider for o in outcomes],
                        "provider_ids": [o.provider_message_id for o in outcomes],
                        "segments": [o.segments for o in outcomes],
                        "prices": [o.price for o in outcomes],
                        "currencies": [o.currency for o in outcomes],
                        "statuses": [o.steps[-1] for o in outcomes],
                    },
                )
            ).all()
            events: list[tuple[Any, bytes | None]] = []
            history: list[dict[str, Any]] = []
            for row in rows:
                outcome = by_id[row.id]
                for step in outcome.steps:
                    source = "dispatcher" if step == "sent" else outcome.provider
                    history.append({"message_id": row.id, "status": step, "source": source})
                events += _published_steps(row, outcome)
            if history:
                await session.execute(insert(MessageStatusEvent), history)
            await self.outbox.add_many(session, events)


def _published_steps(row: Any, outcome: Outcome) -> list[tuple[Any, bytes | None]]:
    """The steps that moved the message forward, unless a callback meanwhile moved it further."""
    if row.status != outcome.steps[-1]:
        return []
    before = DELIVERY_RANK.get(row.before_status, -1)
    key = contact_key(row.tenant_id, row.to_address)
    return [
        (MessageStatusChanged.create(row.tenant_id, status_data(row, step)), key)
        for step in outcome.steps
        if DELIVERY_RANK[step] > before
    ]
