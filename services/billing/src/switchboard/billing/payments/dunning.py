"""Suspension when a failed payment's grace period runs out (checked every `every` seconds): the
subscriber, and the family lines they pay for, are published as suspended, which stops their AI
replies and campaign sends until a payment reactivates them (`invoice.paid`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from switchboard.billing.loops import forever
from switchboard.billing.models import Subscription
from switchboard.billing.payments.webhooks import set_state
from switchboard.common.db import Database


class Dunning:
    def __init__(self, db: Database, now: Callable[[], datetime], *, every: float = 60.0) -> None:
        self.db = db
        self.now = now
        self.every = every

    async def run(self) -> None:
        await forever("dunning", self.suspend_overdue, lambda: self.every)

    async def suspend_overdue(self) -> int:
        """Suspend every subscriber whose grace period is over; how many."""
        now = self.now()
        async with self.db.transaction() as session:
            statement = (
                select(Subscription)
                .where(Subscription.state == "grace", Subscription.grace_until <= now)
                .with_for_update(skip_locked=True)
            )
            overdue = list((await session.scalars(statement)).all())
            for subscription in overdue:
                await set_state(session, subscription, "suspended", None, now)
        return len(overdue)
