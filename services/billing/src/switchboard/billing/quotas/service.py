"""Counting what subscribers use, and publishing what that leaves them.

Every new ledger fact is counted in the same transaction that records it (a redelivered event
records nothing and counts nothing): an SMS as one message, a model call's tokens as tokens, for
the tenant and, when the fact names one, for the contact. Then each subscription the fact
touches is checked; when what replicas act on changed (a counter reached zero, a plan or state
changed: `limits.signature`), `entitlement.changed` goes out through the outbox, on the
compacted `entitlements` topic, keyed by tenant (and contact). Counts going down short of zero
publish nothing: at 5,000 usage events a second, replicas need the edges, not every step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.models import Plan, Subscription, UsageReport, outbox
from switchboard.billing.quotas.limits import Used, day_of, entitlement, month_of, signature
from switchboard.common.outbox import Outbox
from switchboard.contracts import EntitlementChanged, EntitlementData, contact_key, tenant_key

_outbox = Outbox(outbox)

_COUNT = text(
    """
    INSERT INTO billing.quota_counters
        (tenant_id, contact_address, period, period_start, messages, llm_tokens, cost)
    SELECT * FROM unnest(
        CAST(:tenant_ids AS uuid[]), CAST(:addresses AS text[]), CAST(:periods AS text[]),
        CAST(:starts AS date[]), CAST(:messages AS bigint[]), CAST(:tokens AS bigint[]),
        CAST(:costs AS numeric[])
    )
    ON CONFLICT (tenant_id, contact_address, period, period_start) DO UPDATE
    SET messages = billing.quota_counters.messages + excluded.messages,
        llm_tokens = billing.quota_counters.llm_tokens + excluded.llm_tokens,
        cost = billing.quota_counters.cost + excluded.cost
    """
)

_USED = text(
    """
    SELECT w.tenant_id, w.address,
        coalesce(sum(q.messages) FILTER (WHERE q.period = 'day' AND q.period_start = :day), 0)
            ::bigint AS messages_today,
        coalesce(sum(q.messages) FILTER (WHERE q.period = 'month' AND q.period_start = :month),
            0)::bigint AS messages_this_month,
        coalesce(sum(q.llm_tokens) FILTER (WHERE q.period = 'month' AND q.period_start = :month),
            0)::bigint AS llm_tokens_this_month
    FROM unnest(CAST(:tenants AS uuid[]), CAST(:addresses AS text[])) AS w(tenant_id, address)
    CROSS JOIN LATERAL (
        SELECT * FROM billing.quota_counters q
        WHERE q.tenant_id = w.tenant_id AND q.contact_address = w.address
          AND q.period_start IN (:day, :month)
    ) q
    GROUP BY w.tenant_id, w.address
    """
)
"""What each (tenant, address) used today and this month (one index probe each); a subscriber
with no counters has no row."""


async def count_many(
    session: AsyncSession, sums: dict[tuple[UUID, str, str, date], tuple[int, int, Decimal]]
) -> None:
    """Add new facts' sums to the counters: per (tenant, subscriber, period, its start), the
    messages, tokens and cost (one statement, each counter once)."""
    if not sums:
        return
    keys, values = list(sums), list(sums.values())
    await session.execute(
        _COUNT,
        {
            "tenant_ids": [k[0] for k in keys],
            "addresses": [k[1] for k in keys],
            "periods": [k[2] for k in keys],
            "starts": [k[3] for k in keys],
            "messages": [v[0] for v in values],
            "tokens": [v[1] for v in values],
            "costs": [v[2] for v in values],
        },
    )


async def used(session: AsyncSession, tenant_id: UUID, address: str, now: datetime) -> Used:
    """What the subscriber (`address` empty: the tenant) used today and this month."""
    return (await used_many(session, [(tenant_id, address)], now)).get((tenant_id, address), Used())


async def used_many(
    session: AsyncSession, subscribers: Sequence[tuple[UUID, str]], now: datetime
) -> dict[tuple[UUID, str], Used]:
    """What each of these subscribers used today and this month (absent: nothing yet)."""
    parameters = {
        "tenants": [tenant_id for tenant_id, _ in subscribers],
        "addresses": [address for _, address in subscribers],
        "day": day_of(now),
        "month": month_of(now),
    }
    return {
        (row.tenant_id, row.address): Used(
            row.messages_today, row.messages_this_month, row.llm_tokens_this_month
        )
        for row in await session.execute(_USED, parameters)
    }


async def announce(
    session: AsyncSession,
    tenant_id: UUID,
    addresses: Sequence[str],
    now: datetime,
    *,
    force: bool = False,
) -> list[EntitlementData]:
    """`announce_many` for one tenant's subscribers (the tenant itself is `""`)."""
    subscribers = {(tenant_id, address) for address in addresses}
    return await announce_many(session, subscribers, now, force=force)


async def overage(
    session: AsyncSession, tenant_id: UUID, messages: Sequence[dict[str, Any]]
) -> int:
    """Queue a Stripe usage report for each new message (ledger facts, counted already) that
    went beyond its subscriber's monthly allowance on a plan that bills the excess; how many.

    A subscriber `over` their allowance after this batch had the batch's last `over` messages
    beyond it (for the batch's month)."""
    addresses = sorted({"", *(m["contact_address"] or "" for m in messages)})
    statement = (
        select(Subscription, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.tenant_id == tenant_id,
            Subscription.contact_address.in_(addresses),
            Subscription.stripe_customer_id.is_not(None),
            Plan.overage_price.is_not(None),
            Plan.messages_monthly.is_not(None),
        )
    )
    queued = 0
    for subscription, plan in (await session.execute(statement)).all():
        assert plan.messages_monthly is not None
        address = subscription.contact_address
        theirs = [m for m in messages if not address or m["contact_address"] == address]
        by_month: dict[date, list[dict[str, Any]]] = defaultdict(list)
        for message in theirs:
            by_month[month_of(message["occurred_at"])].append(message)
        for in_month in by_month.values():
            so_far = await used(session, tenant_id, address, in_month[-1]["occurred_at"])
            over = so_far.messages_this_month - plan.messages_monthly
            for message in in_month[len(in_month) - min(max(over, 0), len(in_month)) :]:
                report = insert(UsageReport).values(
                    id=f"{message['id']}:{subscription.id}",
                    tenant_id=tenant_id,
                    contact_address=address,
                    stripe_customer_id=subscription.stripe_customer_id,
                    quantity=1,
                    occurred_at=message["occurred_at"],
                )
                await session.execute(report.on_conflict_do_nothing())
                queued += 1
    return queued


_SUBSCRIBED = text(
    """
    SELECT s.id, s.tenant_id, s.contact_address, s.state, s.announced, s.plan_id
    FROM billing.subscriptions s
    WHERE s.tenant_id = ANY(CAST(:tenants AS uuid[]))
      AND s.contact_address = ANY(CAST(:addresses AS text[]))
    ORDER BY s.id
    FOR UPDATE
    """
)


async def announce_many(
    session: AsyncSession,
    subscribers: set[tuple[UUID, str]],
    now: datetime,
    *,
    force: bool = False,
) -> list[EntitlementData]:
    """Publish the entitlement of each of these (tenant, address) subscribers that has a
    subscription and whose signature changed since it was last published (every one with
    `force`); what went out. Three statements however many subscribers: their subscriptions
    (locked, in id order), their plans, and what each used today and this month."""
    tenants = sorted({t for t, _ in subscribers}, key=str)
    addresses = sorted({a for _, a in subscribers})
    found = [
        row
        for row in await session.execute(_SUBSCRIBED, {"tenants": tenants, "addresses": addresses})
        if (row.tenant_id, row.contact_address) in subscribers
    ]
    if not found:
        return []
    wanted = {row.plan_id for row in found}
    plans = {p.id: p for p in (await session.scalars(select(Plan).where(Plan.id.in_(wanted))))}
    so_far = await used_many(session, [(r.tenant_id, r.contact_address) for r in found], now)
    published = []
    for row in found:
        address = row.contact_address
        data = entitlement(
            plans[row.plan_id], row.state, address, so_far.get((row.tenant_id, address), Used())
        )
        marks = signature(data)
        if not force and row.announced == marks:
            continue
        await session.execute(
            update(Subscription).where(Subscription.id == row.id).values(announced=marks)
        )
        key = contact_key(row.tenant_id, address) if address else tenant_key(row.tenant_id)
        await _outbox.add(session, EntitlementChanged.create(row.tenant_id, data), key=key)
        published.append(data)
    return published
