"""Event handlers that feed the ledger (usage events and SMS delivery statuses), and the quota
counters with it: a new fact is counted, and the entitlements it changes are published, in the
transaction that records it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.quotas import service as quotas
from switchboard.billing.quotas.budgets import check_budget
from switchboard.billing.usage.rates import RateCard
from switchboard.billing.usage.service import billable_segments, sms_price, usage_ledger
from switchboard.common.kafka import Delivery
from switchboard.contracts import MessageStatusChanged, UsageRecorded


def utc_now() -> datetime:
    return datetime.now(UTC)


class LedgerFeed:
    """Thin handlers: open the delivery's transaction (which claims the inbox) and record."""

    def __init__(self, rate_card: RateCard, now: Callable[[], datetime] = utc_now) -> None:
        self.rate_card = rate_card
        self.now = now

    async def on_usage_recorded(self, event: UsageRecorded, delivery: Delivery) -> None:
        async with delivery.transaction() as session:
            fact = await usage_ledger.record_usage(session, event)
            if fact is None:
                return
            data = event.data
            tokens = data.quantity if data.kind == "llm_tokens" else 0
            await self._count(
                session,
                fact,
                event.tenant_id,
                data.contact_address,
                event.occurred_at,
                messages=0,
                llm_tokens=tokens,
                cost=data.cost,
            )

    async def on_message_status_changed(
        self, event: MessageStatusChanged, delivery: Delivery
    ) -> None:
        # Most statuses bill nothing: skip them without touching the database.
        if billable_segments(event.data) is None:
            return
        async with delivery.transaction() as session:
            fact = await usage_ledger.record_sms(session, event, self.rate_card)
            if fact is None:
                return
            await self._count(
                session,
                fact,
                event.tenant_id,
                event.data.to_address,
                event.occurred_at,
                messages=1,
                llm_tokens=0,
                cost=self._sms_cost(event),
            )

    async def _count(
        self,
        session: AsyncSession,
        fact: UUID,
        tenant_id: UUID,
        address: str | None,
        occurred_at: datetime,
        *,
        messages: int,
        llm_tokens: int,
        cost: Decimal,
    ) -> None:
        """Count a new fact toward its subscribers' quotas and the tenant's budget, and publish
        what that changes."""
        await quotas.count(
            session,
            tenant_id,
            address,
            occurred_at=occurred_at,
            messages=messages,
            llm_tokens=llm_tokens,
            cost=cost,
        )
        now = self.now()
        subscribers = ["", address] if address else [""]
        await quotas.announce(session, tenant_id, subscribers, now)
        if messages:
            await quotas.overage(session, tenant_id, subscribers, fact, occurred_at)
        if cost:
            await check_budget(session, tenant_id, now)

    def _sms_cost(self, event: MessageStatusChanged) -> Decimal:
        segments = billable_segments(event.data) or 0
        price, _ = sms_price(event.data, segments, self.rate_card)
        return price.amount
