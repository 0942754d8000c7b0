"""Event handlers that feed the ledger: usage events and SMS delivery statuses."""

from __future__ import annotations

from switchboard.billing.usage.rates import RateCard
from switchboard.billing.usage.service import billable_segments, usage_ledger
from switchboard.common.kafka import Delivery
from switchboard.contracts import MessageStatusChanged, UsageRecorded


class LedgerFeed:
    """Thin handlers: open the delivery's transaction (which claims the inbox) and record."""

    def __init__(self, rate_card: RateCard) -> None:
        self.rate_card = rate_card

    async def on_usage_recorded(self, event: UsageRecorded, delivery: Delivery) -> None:
        async with delivery.transaction() as session:
            await usage_ledger.record_usage(session, event)

    async def on_message_status_changed(
        self, event: MessageStatusChanged, delivery: Delivery
    ) -> None:
        # Most statuses bill nothing: skip them without touching the database.
        if billable_segments(event.data) is None:
            return
        async with delivery.transaction() as session:
            await usage_ledger.record_sms(session, event, self.rate_card)
