"""Quotas reset when their period does: a subscriber whose counters ran out is published again
once a new day or month leaves them something (checked every `every` seconds, and at the turn of
each UTC day)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from sqlalchemy import text

from switchboard.billing.loops import forever
from switchboard.billing.quotas import service as quotas
from switchboard.billing.quotas.limits import next_day
from switchboard.common.db import Database

_EXHAUSTED = text(
    """
    SELECT tenant_id, contact_address FROM billing.subscriptions
    WHERE jsonb_array_length(coalesce(announced -> 'exhausted', '[]'::jsonb)) > 0
    """
)


class QuotaResets:
    def __init__(self, db: Database, now: Callable[[], datetime], *, every: float = 60.0) -> None:
        self.db = db
        self.now = now
        self.every = every

    async def run(self) -> None:
        def pause() -> float:
            until_midnight = (next_day(self.now()) - self.now()).total_seconds()
            return max(0.5, min(self.every, until_midnight + 0.5))

        await forever("quota_resets", self.reset_due, pause)

    async def reset_due(self) -> int:
        """Publish every used-up subscriber whose counters a new period refilled; how many."""
        now = self.now()
        async with self.db.transaction() as session:
            by_tenant: dict[UUID, list[str]] = defaultdict(list)
            for row in await session.execute(_EXHAUSTED):
                by_tenant[row.tenant_id].append(row.contact_address)
            published = 0
            for tenant_id, addresses in by_tenant.items():
                published += len(await quotas.announce(session, tenant_id, addresses, now))
        return published
