"""Subscribing, changing and cancelling through Stripe, as the API asks.

Stripe is the source of truth for payment: Checkout creates the subscription, and the webhooks
(`payments/webhooks.py`) are what make it ours. A plan change or a cancellation of a
Stripe-backed subscription is made at Stripe first (prorated), then here; the webhook that
follows confirms it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.models import (
    Checkout,
    Plan,
    StripeCustomer,
    Subscription,
    outbox,
)
from switchboard.billing.payments.stripe_api import StripeGateway
from switchboard.billing.plans.service import plan_service
from switchboard.billing.quotas import service as quotas
from switchboard.common.errors import BadRequest, Conflict, NotFound
from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    MessageRequested,
    MessageRequestedData,
    contact_key,
    new_event_id,
)

_outbox = Outbox(outbox)


@dataclass(frozen=True, slots=True)
class Payments:
    """What the payments endpoints work with: Stripe, and where it sends customers back to."""

    stripe: StripeGateway
    return_url: str


def sellable(plan: Plan, quantity: int) -> str:
    """The plan's Stripe price, if it can be bought `quantity` at a time (a 400 otherwise)."""
    if plan.stripe_price_id is None:
        raise BadRequest(f"The {plan.id!r} plan is not sold through Stripe (it has no price).")
    if quantity != 1 and not plan.per_line:
        raise BadRequest(f"The {plan.id!r} plan is not priced per line: buy one.")
    return plan.stripe_price_id


async def customer_of(
    session: AsyncSession, payments: Payments, tenant_id: UUID, address: str
) -> str:
    """The subscriber's Stripe customer, created the first time (once, whatever retries)."""
    known = await session.get(StripeCustomer, (tenant_id, address))
    if known is not None:
        return known.stripe_customer_id
    metadata = {"tenant_id": str(tenant_id), "contact_address": address}
    key = f"customer:{tenant_id}:{address or 'tenant'}"
    customer = await payments.stripe.customer(key, metadata, phone=address or None)
    await session.execute(
        insert(StripeCustomer)
        .values(tenant_id=tenant_id, contact_address=address, stripe_customer_id=customer)
        .on_conflict_do_nothing()
    )
    return customer


async def checkout(
    session: AsyncSession,
    payments: Payments,
    tenant_id: UUID,
    address: str,
    plan_id: str,
    *,
    quantity: int = 1,
    send_link: bool = False,
) -> Checkout:
    """A Checkout session for the subscriber and plan; with `send_link`, its URL is texted to
    the end user."""
    plan = await plan_service.offered(session, plan_id)
    price = sellable(plan, quantity)
    if send_link and not address:
        raise BadRequest("`send_link` texts an end user: give their `contact_address`.")
    customer = await customer_of(session, payments, tenant_id, address)
    checkout_id = new_event_id()
    metadata = {
        "tenant_id": str(tenant_id),
        "contact_address": address,
        "plan": plan.id,
        "checkout_id": str(checkout_id),
    }
    session_id, url = await payments.stripe.checkout(
        f"checkout:{checkout_id}",
        customer=customer,
        price=price,
        quantity=quantity,
        reference=str(checkout_id),
        metadata=metadata,
        return_url=payments.return_url,
    )
    row = Checkout(
        id=checkout_id,
        tenant_id=tenant_id,
        contact_address=address,
        plan_id=plan.id,
        quantity=quantity,
        stripe_customer_id=customer,
        stripe_session_id=session_id,
        url=url,
    )
    session.add(row)
    if send_link:
        per = f"/{plan.interval}" + (" per line" if plan.per_line else "")
        body = f"Subscribe to {plan.name} ({plan.price} {plan.currency}{per}): {url}"
        data = MessageRequestedData(
            idempotency_key=f"billing:checkout:{checkout_id}",
            origin="system",
            priority="reply",
            channel="sms",
            to_address=address,
            body=body,
        )
        event = MessageRequested.create(tenant_id, data)
        await _outbox.add(session, event, key=contact_key(tenant_id, address))
    await session.flush()
    return row


async def portal(session: AsyncSession, payments: Payments, tenant_id: UUID, address: str) -> str:
    """A customer-portal link for the subscriber (payment methods, invoices, cancellation)."""
    known = await session.get(StripeCustomer, (tenant_id, address))
    if known is None:
        raise NotFound("This subscriber has never paid through Stripe.")
    return await payments.stripe.portal(known.stripe_customer_id, payments.return_url)


async def invoices(
    session: AsyncSession, payments: Payments, tenant_id: UUID, address: str, limit: int
) -> list[dict[str, Any]]:
    known = await session.get(StripeCustomer, (tenant_id, address))
    if known is None:
        return []
    return await payments.stripe.invoices(known.stripe_customer_id, limit)


async def change_plan(
    session: AsyncSession,
    payments: Payments | None,
    subscription: Subscription,
    plan: Plan,
    now: datetime,
) -> None:
    """Move a subscription to `plan`: at Stripe first, prorated, when Stripe bills it."""
    if subscription.stripe_subscription_id is not None:
        if payments is None:
            raise Conflict("This subscription is billed by Stripe, which is not configured.")
        price = sellable(plan, subscription.quantity)
        key = f"plan:{subscription.id}:{subscription.changes + 1}"
        await payments.stripe.change(
            key, subscription.stripe_subscription_id, price=price, quantity=subscription.quantity
        )
    await session.execute(
        update(Subscription)
        .where(Subscription.id == subscription.id)
        .values(plan_id=plan.id, changes=Subscription.changes + 1, updated_at=now)
    )
    await quotas.announce(
        session, subscription.tenant_id, [subscription.contact_address], now, force=True
    )


async def cancel(
    session: AsyncSession, payments: Payments | None, subscription: Subscription
) -> None:
    """Cancel at Stripe (at once) when Stripe bills it; the caller ends it here."""
    if subscription.stripe_subscription_id is None:
        return
    if payments is None:
        raise Conflict("This subscription is billed by Stripe, which is not configured.")
    await payments.stripe.cancel(f"cancel:{subscription.id}", subscription.stripe_subscription_id)


async def find(session: AsyncSession, tenant_id: UUID, address: str) -> Subscription | None:
    statement = (
        select(Subscription)
        .where(Subscription.tenant_id == tenant_id, Subscription.contact_address == address)
        .with_for_update()
    )
    return (await session.scalars(statement)).first()


async def add_line(
    session: AsyncSession,
    payments: Payments | None,
    sponsor: Subscription,
    address: str,
    now: datetime,
) -> Subscription:
    """A line on the sponsor's family plan: Stripe bills one more (prorated), and the line
    gets the plan's allowance of its own, in the sponsor's state."""
    plan = await plan_service.get(session, sponsor.plan_id)
    if not plan.per_line:
        raise BadRequest(f"The {plan.id!r} plan has no lines: a family plan has.")
    if await find(session, sponsor.tenant_id, address) is not None:
        raise Conflict("That number has a subscription of its own already.")
    await _bill_lines(session, payments, sponsor, plan, sponsor.quantity + 1, now)
    line = Subscription(
        tenant_id=sponsor.tenant_id,
        contact_address=address,
        plan_id=plan.id,
        state=sponsor.state,
        grace_until=sponsor.grace_until,
        sponsor_address=sponsor.contact_address,
    )
    session.add(line)
    await session.flush()
    await quotas.announce(session, sponsor.tenant_id, [address], now, force=True)
    return line


async def remove_line(
    session: AsyncSession,
    payments: Payments | None,
    sponsor: Subscription,
    line: Subscription,
    now: datetime,
) -> None:
    """One line fewer on the sponsor's bill (prorated); the caller ends the line."""
    plan = await plan_service.get(session, sponsor.plan_id)
    await _bill_lines(session, payments, sponsor, plan, max(1, sponsor.quantity - 1), now)


async def lines(session: AsyncSession, sponsor: Subscription) -> list[Subscription]:
    statement = (
        select(Subscription)
        .where(
            Subscription.tenant_id == sponsor.tenant_id,
            Subscription.sponsor_address == sponsor.contact_address,
        )
        .order_by(Subscription.contact_address)
    )
    return list((await session.scalars(statement)).all())


async def _bill_lines(
    session: AsyncSession,
    payments: Payments | None,
    sponsor: Subscription,
    plan: Plan,
    quantity: int,
    now: datetime,
) -> None:
    if sponsor.stripe_subscription_id is not None:
        if payments is None:
            raise Conflict("This subscription is billed by Stripe, which is not configured.")
        key = f"lines:{sponsor.id}:{sponsor.changes + 1}"
        price = sellable(plan, quantity)
        await payments.stripe.change(
            key, sponsor.stripe_subscription_id, price=price, quantity=quantity
        )
    await session.execute(
        update(Subscription)
        .where(Subscription.id == sponsor.id)
        .values(quantity=quantity, changes=Subscription.changes + 1, updated_at=now)
    )
