"""A tenant's monthly budget: as this month's usage cost crosses each threshold (50 %, 80 %,
100 % by default), `billing.budget_threshold_reached` is published once, on the `billing` topic,
for partner webhooks and alerting. Checked in the transaction that counts each costed fact."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.models import Budget, outbox
from switchboard.billing.quotas.limits import month_of
from switchboard.common.errors import NotFound
from switchboard.common.outbox import Outbox
from switchboard.contracts import BudgetThresholdData, BudgetThresholdReached, tenant_key

_outbox = Outbox(outbox)

_SPENT = text(
    """
    SELECT coalesce(sum(cost), 0) FROM billing.quota_counters
    WHERE tenant_id = :tenant_id AND contact_address = '' AND period = 'month'
      AND period_start = :month
    """
)


async def spent(session: AsyncSession, tenant_id: UUID, now: datetime) -> Decimal:
    """What the tenant's usage cost this month so far."""
    parameters = {"tenant_id": tenant_id, "month": month_of(now)}
    amount: Decimal = await session.scalar(_SPENT, parameters) or Decimal(0)
    return amount


async def check_budget(session: AsyncSession, tenant_id: UUID, now: datetime) -> list[int]:
    """Publish each threshold this month's spending crossed that was not announced yet; which."""
    budget = await session.get(Budget, tenant_id, with_for_update=True)
    if budget is None:
        return []
    so_far = await spent(session, tenant_id, now)
    month = month_of(now).strftime("%Y-%m")
    announced = set(budget.alerted.get(month, []))
    crossed = [
        threshold
        for threshold in budget.thresholds
        if threshold not in announced and so_far * 100 >= budget.monthly_amount * threshold
    ]
    for threshold in crossed:
        data = BudgetThresholdData(
            month=month,
            threshold_percent=threshold,
            budget=budget.monthly_amount,
            spent=so_far,
            currency=budget.currency,
        )
        event = BudgetThresholdReached.create(tenant_id, data)
        await _outbox.add(session, event, key=tenant_key(tenant_id))
    if crossed:
        budget.alerted = {month: sorted(announced | set(crossed))}
    return crossed


async def set_budget(
    session: AsyncSession,
    tenant_id: UUID,
    amount: Decimal,
    currency: str,
    thresholds: Sequence[int],
    now: datetime,
) -> Budget:
    """Set the budget; thresholds already crossed this month are announced at once."""
    values = {
        "monthly_amount": amount,
        "currency": currency,
        "thresholds": sorted(set(thresholds)),
        "updated_at": now,
    }
    statement = insert(Budget).values(tenant_id=tenant_id, alerted={}, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=[Budget.tenant_id], set_=values)
    )
    await check_budget(session, tenant_id, now)
    budget = await session.get(Budget, tenant_id, populate_existing=True)
    assert budget is not None
    return budget


async def get_budget(session: AsyncSession, tenant_id: UUID) -> Budget:
    budget = await session.get(Budget, tenant_id)
    if budget is None:
        raise NotFound("No budget is set.")
    return budget
