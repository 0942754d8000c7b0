"""Following the delivery of the replies in transcripts, many statuses per transaction.

Every reply sent (the assistant's, a fixed one, an operator's) is followed by a few
`message.status_changed` events; a busy worker gets more of them than messages. They are applied
by group commit: the statuses that arrive while a write is in flight go together in the next
one, each reply's row locked, moved only forward (`is_forward`: a late `sent` never replaces
`delivered`) and claimed in the inbox in the same transaction.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.common.grouping import Batcher
from switchboard.common.kafka import AlreadyProcessed, Delivery, claim_together
from switchboard.contracts import MessageStatusChanged, is_forward

# Index probes on (tenant_id, idempotency_key) whatever plan is cached, never a join to the
# parameter rows (see "Many messages per statement" in docs/architecture.md).
_LOCK = text(
    """
    SELECT id, tenant_id, idempotency_key, delivery_status FROM conversation.turns
    WHERE tenant_id = ANY(CAST(:tenant_ids AS uuid[]))
      AND idempotency_key = ANY(CAST(:keys AS text[]))
    ORDER BY id
    FOR UPDATE
    """
)

_ADVANCE = text(
    """
    UPDATE conversation.turns AS t SET delivery_status = u.status
    FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[])) AS u(id, status)
    WHERE t.id = u.id AND t.id = ANY(CAST(:ids AS uuid[]))
    """
)

Status = tuple[MessageStatusChanged, Delivery]


class DeliveryStatuses:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._batches: Batcher[Status, None] = Batcher(self._write, name="conversation_statuses")

    async def record(self, event: MessageStatusChanged, delivery: Delivery) -> None:
        """Once committed; raises `AlreadyProcessed` for an event the inbox has seen."""
        if delivery.shared is not None:  # a batch transaction that already claimed it
            await self.apply(delivery.shared, [event])
            return
        await self._batches.submit((event, delivery))

    async def _write(self, statuses: list[Status]) -> list[BaseException | None]:
        async with self.db.transaction() as session:
            claimed = await claim_together(session, [delivery for _, delivery in statuses])
            await self.apply(
                session, [e for (e, _), new in zip(statuses, claimed, strict=True) if new]
            )
        return [None if new else AlreadyProcessed() for new in claimed]

    async def apply(self, session: AsyncSession, events: list[MessageStatusChanged]) -> None:
        """Move each reply to the furthest status it was given, if that is forward; statuses of
        messages that are not in a transcript are not ours and change nothing."""
        wanted: dict[tuple[UUID, str], str] = {}
        for event in events:
            reply = (event.tenant_id, event.data.idempotency_key)
            if reply not in wanted or is_forward(wanted[reply], event.data.status):
                wanted[reply] = event.data.status
        if not wanted:
            return
        parameters = {
            "tenant_ids": sorted({tenant_id for tenant_id, _ in wanted}),
            "keys": sorted({key for _, key in wanted}),
        }
        moves: dict[UUID, str] = {}
        for row in await session.execute(_LOCK, parameters):
            status = wanted.get((row.tenant_id, row.idempotency_key))
            if status is not None and is_forward(row.delivery_status or "queued", status):
                moves[row.id] = status
        if moves:
            await session.execute(_ADVANCE, {"ids": list(moves), "statuses": list(moves.values())})
