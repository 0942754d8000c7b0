"""Messages beyond a plan's monthly allowance, reported to Stripe's billing meter.

The counting transaction queues a report per fact and subscriber (`usage_reports`, keyed by
both, so a redelivered fact queues nothing). This loop sends the unreported ones as meter events
whose `identifier` is the report's id, under the same idempotency key: Stripe takes each once,
whether our request is retried or the loop restarts after Stripe took it but before we marked
it. A report Stripe says it already has is marked reported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import stripe
from sqlalchemy import select, update

from switchboard.billing.loops import forever
from switchboard.billing.models import UsageReport
from switchboard.billing.payments.stripe_api import StripeGateway
from switchboard.common.db import Database

BATCH = 100


class UsageReporter:
    def __init__(
        self,
        db: Database,
        stripe_gateway: StripeGateway,
        event_name: str,
        now: Callable[[], datetime],
        *,
        every: float = 5.0,
    ) -> None:
        self.db = db
        self.stripe = stripe_gateway
        self.event_name = event_name
        self.now = now
        self.every = every

    async def run(self) -> None:
        async def drain() -> None:
            while await self.report_due() == BATCH:
                pass

        await forever("usage_reports", drain, lambda: self.every)

    async def report_due(self) -> int:
        """Report up to `BATCH` unreported messages; how many Stripe now has."""
        async with self.db.transaction() as session:
            statement = (
                select(UsageReport)
                .where(UsageReport.reported_at.is_(None))
                .order_by(UsageReport.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            reports = list((await session.scalars(statement)).all())
            done = []
            for report in reports:
                try:
                    await self.stripe.meter_event(
                        report.id,
                        event_name=self.event_name,
                        customer=report.stripe_customer_id,
                        value=report.quantity,
                        timestamp=report.occurred_at,
                    )
                except stripe.InvalidRequestError as error:
                    if "already exists" not in str(error):
                        raise
                done.append(report.id)
            if done:
                await session.execute(
                    update(UsageReport)
                    .where(UsageReport.id.in_(done))
                    .values(reported_at=self.now())
                )
        return len(done)
