"""Who is on which plan. A subscription comes from Stripe Checkout (`payments/`), or is set
through the API: a tenant's own plan by the platform admin, an end user's by the tenant. Changing
or ending one that Stripe bills goes through Stripe. A subscriber without a plan is unlimited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.models import Subscription, outbox
from switchboard.billing.payments.service import Payments, cancel, change_plan, find
from switchboard.billing.plans.service import plan_service
from switchboard.billing.quotas import service as quotas
from switchboard.billing.quotas.limits import Used, limits, next_day, next_month, remaining
from switchboard.billing.quotas.schemas import QuotaRead
from switchboard.common.errors import NotFound
from switchboard.common.outbox import Outbox
from switchboard.contracts import EntitlementChanged, EntitlementData, contact_key, tenant_key

NO_PLAN = "none"
"""The plan an entitlement names when a subscription ended: nothing is limited."""

_outbox = Outbox(outbox)


class SubscriptionService:
    async def subscribe(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        address: str,
        plan_id: str,
        now: datetime,
        payments: Payments | None = None,
    ) -> Subscription:
        """Put the subscriber (`address` empty: the tenant) on `plan_id` and publish what that
        leaves them, at once; a subscription Stripe bills changes there first, prorated."""
        plan = await plan_service.offered(session, plan_id)
        existing = await find(session, tenant_id, address)
        if existing is not None:
            await change_plan(session, payments, existing, plan, now)
            await session.refresh(existing)
            return existing
        upsert = insert(Subscription).values(
            tenant_id=tenant_id, contact_address=address, plan_id=plan_id
        )
        statement = upsert.on_conflict_do_update(
            index_elements=[Subscription.tenant_id, Subscription.contact_address],
            set_={"plan_id": plan_id, "updated_at": func.now()},
        ).returning(Subscription)
        options = {"populate_existing": True}
        subscription: Subscription = (
            await session.scalars(statement, execution_options=options)
        ).one()
        await quotas.announce(session, tenant_id, [address], now, force=True)
        return subscription

    async def unsubscribe(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        address: str,
        payments: Payments | None = None,
    ) -> None:
        """End the subscription (cancelling it at Stripe when Stripe bills it): nothing is
        limited any more, and the replicas are told."""
        existing = await find(session, tenant_id, address)
        if existing is None:
            raise NotFound("No such subscription.")
        await cancel(session, payments, existing)
        await end(session, existing)

    async def list(self, session: AsyncSession, tenant_id: UUID) -> Sequence[Subscription]:
        statement = (
            select(Subscription)
            .where(Subscription.tenant_id == tenant_id)
            .order_by(Subscription.contact_address)
        )
        return (await session.scalars(statement)).all()

    async def quota(
        self, session: AsyncSession, tenant_id: UUID, address: str, now: datetime
    ) -> QuotaRead:
        """The subscriber's plan, what they used and what is left, now."""
        subscription = await session.scalar(
            select(Subscription).where(
                Subscription.tenant_id == tenant_id, Subscription.contact_address == address
            )
        )
        so_far: Used = await quotas.used(session, tenant_id, address, now)
        plan = await plan_service.get(session, subscription.plan_id) if subscription else None
        return QuotaRead(
            contact_address=address or None,
            plan=plan.id if plan else None,
            state=subscription.state if subscription else None,
            limits=limits(plan) if plan else {},
            used=asdict(so_far),
            remaining=remaining(plan, so_far) if plan else {},
            day_resets_at=next_day(now),
            month_resets_at=next_month(now),
        )


async def end(session: AsyncSession, subscription: Subscription) -> None:
    """Delete the subscription (and a family's lines with their sponsor's) and tell the
    replicas nothing is limited any more."""
    tenant_id = subscription.tenant_id
    ended = await session.execute(
        delete(Subscription)
        .where(
            Subscription.tenant_id == tenant_id,
            (Subscription.id == subscription.id)
            | (
                (Subscription.sponsor_address == subscription.contact_address)
                & (subscription.contact_address != "")
            ),
        )
        .returning(Subscription.contact_address)
    )
    for address in ended.scalars().all():
        data = EntitlementData(plan=NO_PLAN, state="active", contact_address=address or None)
        key = contact_key(tenant_id, address) if address else tenant_key(tenant_id)
        await _outbox.add(session, EntitlementChanged.create(tenant_id, data), key=key)


subscription_service = SubscriptionService()
