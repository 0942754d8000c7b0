"""The ledger's feed: usage events and SMS delivery statuses, a partition's batch at a time.

In the transaction that claims the batch's events (the inbox), set-based:

1. the facts the events report go into the ledger in one statement, each fact once (a
   redelivered event, or an SMS's second status, adds nothing);
2. the new facts are added up per subscriber (the tenant, and the contact a fact names) and
   UTC day and month, and the quota counters take the sums in one statement;
3. for each tenant in the batch: the subscribers whose entitlement changed are published
   (`quotas.announce`), messages beyond an overage plan's allowance are queued for Stripe's
   meter, and budget thresholds crossed are announced.

A batch that fails is retried one event at a time by the consumer, through the same code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.quotas import service as quotas
from switchboard.billing.quotas.budgets import check_budget
from switchboard.billing.quotas.limits import day_of, month_of
from switchboard.billing.usage.rates import RateCard
from switchboard.billing.usage.service import sms_fact, usage_fact, usage_ledger
from switchboard.contracts import AnyEvent, MessageStatusChanged, UsageRecorded


def utc_now() -> datetime:
    return datetime.now(UTC)


class LedgerFeed:
    def __init__(self, rate_card: RateCard, now: Callable[[], datetime] = utc_now) -> None:
        self.rate_card = rate_card
        self.now = now

    async def on_batch(self, events: list[AnyEvent], session: AsyncSession) -> None:
        facts: list[dict[str, Any]] = []
        for event in events:
            if isinstance(event, UsageRecorded):
                facts.append(usage_fact(event))
            elif isinstance(event, MessageStatusChanged):
                fact = sms_fact(event, self.rate_card)
                if fact is not None:
                    facts.append(fact)
        new = await usage_ledger.record(session, facts)
        if not new:
            return
        await quotas.count_many(session, _sums(new))
        now = self.now()
        by_tenant: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
        for fact in new:
            by_tenant[fact["tenant_id"]].append(fact)
        touched = {(f["tenant_id"], "") for f in new} | {
            (f["tenant_id"], f["contact_address"]) for f in new if f["contact_address"]
        }
        await quotas.announce_many(session, touched, now)
        for tenant_id, theirs in by_tenant.items():
            messages = [f for f in theirs if f["kind"] == "sms_segments"]
            if messages:
                await quotas.overage(session, tenant_id, messages)
            if any(f["cost"] for f in theirs):
                await check_budget(session, tenant_id, now)


Counter = tuple[UUID, str, str, date]
"""(tenant, subscriber address or "" for the tenant, "day" or "month", the period's start)."""


def _sums(facts: list[dict[str, Any]]) -> dict[Counter, tuple[int, int, Decimal]]:
    """Messages, tokens and cost of the new facts, per subscriber and period."""
    sums: dict[Counter, list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    for fact in facts:
        messages = 1 if fact["kind"] == "sms_segments" else 0
        tokens = fact["quantity"] if fact["kind"] == "llm_tokens" else 0
        at: datetime = fact["occurred_at"]
        subscribers = ["", fact["contact_address"]] if fact["contact_address"] else [""]
        for address in subscribers:
            for period, start in (("day", day_of(at)), ("month", month_of(at))):
                total = sums[(fact["tenant_id"], address, period, start)]
                total[0] += messages
                total[1] += tokens
                total[2] += fact["cost"]
    return {key: (m, t, c) for key, (m, t, c) in sums.items()}
