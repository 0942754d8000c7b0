"""Stripe's webhooks: verified, taken once each, applied in the order things happened.

- The signature is checked with the SDK against every configured secret (several while one is
  rotated) and a tolerance in seconds (an old, replayed event is refused).
- Each event id is stored (`stripe_events`): a redelivery changes nothing.
- Stripe does not promise order: a subscription keeps the time of the newest event applied to
  it (`stripe_updated_at`), and an older event arriving late is ignored, so a late
  `customer.subscription.updated` never rolls back a newer state.

What each event does:

- `checkout.session.completed`: the checkout's subscriber is on its plan, billed by Stripe;
- `customer.subscription.created` / `.updated`: the plan (by its Stripe price), the lines paid
  for, and the state: `active`/`trialing` serve, `past_due`/`unpaid` start the grace period,
  `canceled` ends the subscription;
- `customer.subscription.deleted`: the subscription ends;
- `invoice.payment_failed`: the grace period starts (`grace_days`); `payments/dunning.py`
  suspends the subscriber when it is over;
- `invoice.paid`: the subscriber is served again (reactivation after a suspension).

Every change is published to the other services as the subscriber's entitlement; a family's
lines follow their sponsor's state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.models import Checkout, Plan, StripeEvent, Subscription
from switchboard.billing.quotas import service as quotas
from switchboard.billing.quotas.subscriptions import end

log = structlog.get_logger(__name__)

SERVING = frozenset({"active", "trialing"})
OVERDUE = frozenset({"past_due", "unpaid"})
ENDED = frozenset({"canceled", "incomplete_expired"})


class StripeEvents:
    def __init__(self, grace: timedelta) -> None:
        self.grace = grace

    async def apply(self, session: AsyncSession, payload: bytes, now: datetime) -> str:
        """Apply one verified event (its JSON body); what came of it, for the logs."""
        event: dict[str, Any] = json.loads(payload)
        at = datetime.fromtimestamp(int(event["created"]), UTC)
        taken = await session.scalar(
            insert(StripeEvent)
            .values(id=event["id"], type=event["type"], created=at)
            .on_conflict_do_nothing()
            .returning(StripeEvent.id)
        )
        if taken is None:
            return "duplicate"
        obj: dict[str, Any] = event["data"]["object"]
        kind = event["type"]
        if kind == "checkout.session.completed":
            return await self._checkout_completed(session, obj, at, now)
        if kind in ("customer.subscription.created", "customer.subscription.updated"):
            return await self._subscription_changed(session, obj, at, now)
        if kind == "customer.subscription.deleted":
            return await self._subscription_deleted(session, obj, at)
        if kind == "invoice.payment_failed":
            return await self._invoice(session, obj, at, now, paid=False)
        if kind == "invoice.paid":
            return await self._invoice(session, obj, at, now, paid=True)
        return "ignored"

    async def _checkout_completed(
        self, session: AsyncSession, obj: dict[str, Any], at: datetime, now: datetime
    ) -> str:
        reference = obj.get("client_reference_id")
        checkout = await session.get(Checkout, UUID(reference)) if reference else None
        if checkout is None or obj.get("subscription") is None:
            log.info("stripe.checkout_unknown", session=obj.get("id"))
            return "ignored"
        checkout.status = "complete"
        values = {
            "plan_id": checkout.plan_id,
            "state": "active",
            "grace_until": None,
            "stripe_customer_id": checkout.stripe_customer_id,
            "stripe_subscription_id": obj["subscription"],
            "quantity": checkout.quantity,
            "stripe_updated_at": at,
            "updated_at": now,
        }
        statement = insert(Subscription).values(
            tenant_id=checkout.tenant_id, contact_address=checkout.contact_address, **values
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Subscription.tenant_id, Subscription.contact_address],
            set_=values,
            where=or_(
                Subscription.stripe_updated_at.is_(None), Subscription.stripe_updated_at <= at
            ),
        )
        await session.execute(statement)
        await quotas.announce(
            session, checkout.tenant_id, [checkout.contact_address], now, force=True
        )
        return "subscribed"

    async def _subscription_changed(
        self, session: AsyncSession, obj: dict[str, Any], at: datetime, now: datetime
    ) -> str:
        subscription = await self._subscription(session, obj["id"], obj.get("metadata") or {})
        if subscription is None:
            return "ignored"
        if _stale(subscription, at):
            return "stale"
        status = obj.get("status")
        if status in ENDED:
            await end(session, subscription)
            return "ended"
        item = obj["items"]["data"][0]
        plan = await session.scalar(select(Plan).where(Plan.stripe_price_id == item["price"]["id"]))
        changes: dict[str, Any] = {
            "stripe_subscription_id": obj["id"],
            "quantity": int(item.get("quantity") or 1),
            "stripe_updated_at": at,
            "updated_at": now,
        }
        if plan is not None:
            changes["plan_id"] = plan.id
        await session.execute(
            update(Subscription).where(Subscription.id == subscription.id).values(**changes)
        )
        if status in SERVING:
            await set_state(session, subscription, "active", None, now)
        elif status in OVERDUE and subscription.state == "active":
            await set_state(session, subscription, "grace", now + self.grace, now)
        await quotas.announce(session, subscription.tenant_id, [subscription.contact_address], now)
        return "updated"

    async def _subscription_deleted(
        self, session: AsyncSession, obj: dict[str, Any], at: datetime
    ) -> str:
        subscription = await self._subscription(session, obj["id"], {})
        if subscription is None:
            return "ignored"
        if _stale(subscription, at):
            return "stale"
        await end(session, subscription)
        return "ended"

    async def _invoice(
        self,
        session: AsyncSession,
        obj: dict[str, Any],
        at: datetime,
        now: datetime,
        *,
        paid: bool,
    ) -> str:
        stripe_id = obj.get("subscription") or (
            ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        )
        subscription = await self._subscription(session, stripe_id, {}) if stripe_id else None
        if subscription is None:
            return "ignored"
        if _stale(subscription, at):
            return "stale"
        await session.execute(
            update(Subscription)
            .where(Subscription.id == subscription.id)
            .values(stripe_updated_at=at)
        )
        if paid:
            await set_state(session, subscription, "active", None, now)
            return "paid"
        if subscription.state == "active":
            await set_state(session, subscription, "grace", now + self.grace, now)
        return "payment_failed"

    async def _subscription(
        self, session: AsyncSession, stripe_id: str, metadata: dict[str, Any]
    ) -> Subscription | None:
        """Ours for a Stripe subscription: by its id, else by the subscriber in its metadata
        (its `created` event may come before the checkout's)."""
        found = await session.scalar(
            select(Subscription)
            .where(Subscription.stripe_subscription_id == stripe_id)
            .with_for_update()
        )
        if found is not None or "tenant_id" not in metadata:
            return found
        return await session.scalar(
            select(Subscription)
            .where(
                Subscription.tenant_id == UUID(metadata["tenant_id"]),
                Subscription.contact_address == metadata.get("contact_address", ""),
            )
            .with_for_update()
        )


async def set_state(
    session: AsyncSession,
    subscription: Subscription,
    state: str,
    grace_until: datetime | None,
    now: datetime,
) -> None:
    """Put the subscription, and the family lines it sponsors, in `state`; publish the change."""
    sponsored = (Subscription.sponsor_address == subscription.contact_address) & (
        subscription.contact_address != ""
    )
    changed = await session.execute(
        update(Subscription)
        .where(
            Subscription.tenant_id == subscription.tenant_id,
            (Subscription.id == subscription.id) | sponsored,
        )
        .values(state=state, grace_until=grace_until, updated_at=now)
        .returning(Subscription.contact_address)
    )
    addresses = list(changed.scalars().all())
    await quotas.announce(session, subscription.tenant_id, addresses, now)


def _stale(subscription: Subscription, at: datetime) -> bool:
    return subscription.stripe_updated_at is not None and at < subscription.stripe_updated_at
