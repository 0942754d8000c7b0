"""Subscriptions through Stripe, end to end: the real `stripe` SDK against a local fake Stripe
that records every request and signs the webhooks it sends, and billing's API, worker and
outbox on a real database and broker.

Checkout makes an active subscription; an upgrade is prorated; a cancellation ends it; a failed
payment gives a grace period, then a suspension, and a payment reactivates; webhooks are taken
once, in the order things happened, and only when signed; a family's sponsor pays for lines."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from switchboard.billing.payments.dunning import Dunning
from switchboard.billing.payments.metering import UsageReporter
from switchboard.billing.payments.service import Payments
from switchboard.billing.payments.stripe_api import StripeGateway
from switchboard.common.db import Database
from switchboard.contracts import EntitlementChanged, MessageRequested, Topic
from switchboard.devstack.fake_stripe import FakeStripe
from switchboard.devstack.testkit import EventLog, Publish, eventually

from ..helpers import Tenant, sms_status

pytestmark = pytest.mark.usefixtures("billing_worker")

MONTHLY = {"currency": "usd", "recurring": {"interval": "month"}}


class Stripe:
    """The fake Stripe, this test's plans priced in it, and billing pointed at it."""

    def __init__(
        self, fake: FakeStripe, billing: httpx.AsyncClient, app: FastAPI, admin_key: str
    ) -> None:
        self.fake = fake
        self.billing = billing
        self.billing_app = app
        self.admin = {"Authorization": f"Bearer {admin_key}"}
        self.suffix = secrets.token_hex(3)

    async def plan(self, name: str, cents: int, *, per_line: bool = False, **limits: Any) -> str:
        """A plan sold through Stripe at `cents` a month; its id."""
        plan_id, price_id = f"{name}-{self.suffix}", f"price_{name}_{self.suffix}"
        self.fake.prices[price_id] = {"unit_amount": cents, **MONTHLY}
        body = {
            "name": name.title(),
            "price": f"{cents / 100:.2f}",
            "per_line": per_line,
            "stripe_price_id": price_id,
        } | limits
        response = await self.billing.put(f"/v1/plans/{plan_id}", json=body, headers=self.admin)
        assert response.status_code == 200, response.text
        return plan_id

    async def deliver(self, *events: dict[str, Any]) -> list[str]:
        """Post each event to billing's webhook as Stripe would; what billing made of each."""
        outcomes = []
        for event in events:
            body, headers = self.fake.signed(event)
            response = await self.billing.post("/v1/webhooks/stripe", content=body, headers=headers)
            assert response.status_code == 200, response.text
            outcomes.append(response.json()["outcome"])
        return outcomes

    @property
    def gateway(self) -> StripeGateway:
        payments: Payments = self.billing_app.state.payments
        return payments.stripe

    def requests_to(self, path: str, method: str = "POST") -> list[dict[str, Any]]:
        return [r for r in self.fake.requests if r["path"] == path and r["method"] == method]


@pytest.fixture
async def stripe(
    serve: Any, billing: httpx.AsyncClient, billing_app: FastAPI, admin_key: str
) -> AsyncIterator[Stripe]:
    fake = FakeStripe(api_key="sk_test_" + secrets.token_hex(8))
    url = await serve(fake.app())
    state = billing_app.state
    state.payments = Payments(StripeGateway(fake.api_key, api_base=url), "https://shop.test/done")
    state.stripe_webhook_secrets = ["whsec_retired", fake.webhook_secret]
    yield Stripe(fake, billing, billing_app, admin_key)
    del state.payments
    state.stripe_webhook_secrets = []


def subscriber() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


async def checkout(
    stripe: Stripe, tenant: Tenant, plan: str, address: str, **fields: Any
) -> dict[str, Any]:
    body = {"plan": plan, "contact_address": address} | fields
    response = await stripe.billing.post("/v1/checkout", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def paid(stripe: Stripe, tenant: Tenant, plan: str, address: str) -> str:
    """The end user checked out and paid; their Stripe subscription's id."""
    opened = await checkout(stripe, tenant, plan, address)
    session_id = opened["url"].rsplit("/", 1)[-1]
    assert await stripe.deliver(*stripe.fake.complete_checkout(session_id)) == [
        "subscribed",
        "updated",
        "paid",
    ]
    [subscription_id] = [
        s["id"]
        for s in stripe.fake.subscriptions.values()
        if s["metadata"]["contact_address"] == address
    ]
    return str(subscription_id)


async def subscription_of(stripe: Stripe, tenant: Tenant, address: str) -> dict[str, Any] | None:
    response = await stripe.billing.get("/v1/subscriptions", headers=tenant.headers)
    assert response.status_code == 200, response.text
    found = [s for s in response.json() if s["contact_address"] == address]
    return found[0] if found else None


async def latest_entitlement(
    log: EventLog, tenant: Tenant, address: str, **expected: Any
) -> EntitlementChanged:
    """The newest entitlement published for `address`, once it has the expected fields."""

    def matches(events: list[Any]) -> bool:
        mine = [e for e in events if e.data.contact_address == address]
        return bool(mine) and all(getattr(mine[-1].data, k) == v for k, v in expected.items())

    records = await log.wait(Topic.ENTITLEMENTS, tenant.id, matches)
    event = [e for _, e in records if e.data.contact_address == address][-1]
    assert isinstance(event, EntitlementChanged)
    return event


class TestCheckout:
    async def test_checkout_to_an_active_subscription_with_the_link_texted(
        self,
        stripe: Stripe,
        customer: Tenant,
        entitlements: EventLog,
        outbound: EventLog,
    ) -> None:
        # Given a Basic plan sold through Stripe
        basic = await stripe.plan("basic", 499, messages_monthly=1000)
        address = subscriber()
        # When the tenant opens a Checkout for an end user, texting them the link
        opened = await checkout(stripe, customer, basic, address, send_link=True)
        assert opened["status"] == "open"
        # Then Stripe got a customer and a session, each with a key made of our ids
        [made] = stripe.requests_to("/v1/customers")
        assert made["idempotency_key"] == f"customer:{customer.id}:{address}"
        [session] = stripe.requests_to("/v1/checkout/sessions")
        assert session["idempotency_key"] == f"checkout:{opened['id']}"
        assert session["params"]["line_items"] == [
            {"price": f"price_basic_{stripe.suffix}", "quantity": "1"}
        ]
        assert session["params"]["client_reference_id"] == opened["id"]
        # And the end user is texted the link
        texts = await outbound.wait(
            Topic.MESSAGES_OUTBOUND, customer.id, lambda events: len(events) >= 1
        )
        [(_, text)] = texts
        assert isinstance(text, MessageRequested)
        assert (text.data.to_address, text.data.origin) == (address, "system")
        assert opened["url"] in text.data.body
        # When they pay, and Stripe says so
        session_id = opened["url"].rsplit("/", 1)[-1]
        outcomes = await stripe.deliver(*stripe.fake.complete_checkout(session_id))
        # Then they are on Basic, billed by Stripe, and the other services are told
        assert outcomes == ["subscribed", "updated", "paid"]
        mine = await subscription_of(stripe, customer, address)
        assert mine is not None
        assert (mine["plan"], mine["state"]) == (basic, "active")
        published = await latest_entitlement(entitlements, customer, address, plan=basic)
        assert published.data.state == "active"
        # A second opening of the same customer reuses its Stripe customer
        await checkout(stripe, customer, basic, subscriber())
        await checkout(stripe, customer, basic, address)
        assert len(stripe.fake.customers) == 2

    async def test_a_plan_not_sold_through_stripe_or_without_stripe_is_refused(
        self, stripe: Stripe, customer: Tenant, billing_app: FastAPI
    ) -> None:
        refused = await stripe.billing.post(
            "/v1/checkout", json={"plan": "free"}, headers=customer.headers
        )
        assert refused.status_code == 400, refused.text
        assert "not sold through Stripe" in refused.text
        saved = billing_app.state.payments
        del billing_app.state.payments
        try:
            down = await stripe.billing.post(
                "/v1/checkout", json={"plan": "free"}, headers=customer.headers
            )
        finally:
            billing_app.state.payments = saved
        assert down.status_code == 503, down.text


class TestChanges:
    async def test_an_upgrade_is_prorated_and_a_cancellation_ends_it(
        self, stripe: Stripe, customer: Tenant, entitlements: EventLog
    ) -> None:
        basic = await stripe.plan("basic", 499, messages_monthly=1000)
        unlimited = await stripe.plan("unlimited", 999)
        address = subscriber()
        stripe_id = await paid(stripe, customer, basic, address)
        # When the end user moves up to Unlimited
        response = await stripe.billing.put(
            f"/v1/subscriptions/{address}", json={"plan": unlimited}, headers=customer.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["plan"] == unlimited
        # Then Stripe changed the subscription's price with proration, under our key
        [change] = stripe.requests_to(f"/v1/subscriptions/{stripe_id}")
        mine = await subscription_of(stripe, customer, address)
        assert mine is not None
        assert change["idempotency_key"] == f"plan:{mine['id']}:1"
        assert change["params"]["proration_behavior"] == "create_prorations"
        assert change["params"]["items"][0]["price"] == f"price_unlimited_{stripe.suffix}"
        # And the proration shows among the invoices, beside the first one paid
        invoices = await stripe.billing.get(
            "/v1/invoices", params={"contact_address": address}, headers=customer.headers
        )
        assert invoices.status_code == 200, invoices.text
        statuses = sorted(i["status"] for i in invoices.json())
        assert statuses == ["draft", "paid"]
        # And the limits are gone (Unlimited), for the other services too
        await latest_entitlement(entitlements, customer, address, plan=unlimited)
        # When Stripe's own event about the change arrives, nothing changes back
        assert await stripe.deliver(stripe.fake.events[-1]) == ["updated"]
        # When the end user cancels
        ended = await stripe.billing.delete(
            f"/v1/subscriptions/{address}", headers=customer.headers
        )
        assert ended.status_code == 204, ended.text
        [cancel] = stripe.requests_to(f"/v1/subscriptions/{stripe_id}", method="DELETE")
        assert cancel["idempotency_key"] == f"cancel:{mine['id']}"
        assert stripe.fake.subscriptions[stripe_id]["status"] == "canceled"
        assert await subscription_of(stripe, customer, address) is None
        await latest_entitlement(entitlements, customer, address, plan="none")
        # And Stripe's deletion event, arriving after, finds nothing to do
        assert await stripe.deliver(stripe.fake.events[-1]) == ["ignored"]


class TestPayments:
    async def test_failure_grace_suspension_and_reactivation(
        self,
        stripe: Stripe,
        customer: Tenant,
        entitlements: EventLog,
        billing_db: Database,
    ) -> None:
        basic = await stripe.plan("basic", 499, messages_monthly=1000)
        address = subscriber()
        stripe_id = await paid(stripe, customer, basic, address)
        # When a renewal payment fails
        assert await stripe.deliver(*stripe.fake.fail_payment(stripe_id)) == [
            "payment_failed",
            "updated",
        ]
        # Then they are still served, in grace
        await latest_entitlement(entitlements, customer, address, state="grace")
        # When the grace period (7 days) is over, they are suspended
        soon = Dunning(billing_db, lambda: datetime.now(UTC) + timedelta(days=6))
        assert await soon.suspend_overdue() == 0
        later = Dunning(billing_db, lambda: datetime.now(UTC) + timedelta(days=8))
        assert await later.suspend_overdue() >= 1
        await latest_entitlement(entitlements, customer, address, state="suspended")
        # When they pay, they are served again
        assert await stripe.deliver(*stripe.fake.pay(stripe_id)) == ["paid", "updated"]
        await latest_entitlement(entitlements, customer, address, state="active")
        mine = await subscription_of(stripe, customer, address)
        assert mine is not None
        assert mine["state"] == "active"


class TestWebhooks:
    async def test_duplicates_and_late_events_change_nothing(
        self, stripe: Stripe, customer: Tenant
    ) -> None:
        basic = await stripe.plan("basic", 499, messages_monthly=1000)
        address = subscriber()
        stripe_id = await paid(stripe, customer, basic, address)
        failed = stripe.fake.fail_payment(stripe_id)
        recovered = stripe.fake.pay(stripe_id)
        # The recovery arrives first, then the failure before it, then the recovery again
        assert await stripe.deliver(*recovered) == ["paid", "updated"]
        assert await stripe.deliver(*failed) == ["stale", "stale"]
        assert await stripe.deliver(*recovered) == ["duplicate", "duplicate"]
        mine = await subscription_of(stripe, customer, address)
        assert mine is not None
        assert mine["state"] == "active"

    @pytest.mark.parametrize("forgery", ["wrong secret", "too old", "no signature", "tampered"])
    async def test_forged_and_stale_signatures_are_refused(
        self, stripe: Stripe, customer: Tenant, forgery: str
    ) -> None:
        basic = await stripe.plan("basic", 499)
        opened = await checkout(stripe, customer, basic, subscriber())
        [completed, *_] = stripe.fake.complete_checkout(opened["url"].rsplit("/", 1)[-1])
        if forgery == "wrong secret":
            body, headers = stripe.fake.signed(completed, secret="whsec_someone_else")
        elif forgery == "too old":
            old = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp())
            body, headers = stripe.fake.signed(completed, timestamp=old)
        elif forgery == "no signature":
            body, headers = stripe.fake.signed(completed)
            del headers["Stripe-Signature"]
        else:
            body, headers = stripe.fake.signed(completed)
            body = body.replace(b'"complete"', b'"open"')
        response = await stripe.billing.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 400, response.text
        # Signed with the secret being rotated in, it is taken
        body, headers = stripe.fake.signed(completed, secret="whsec_retired")
        accepted = await stripe.billing.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert accepted.json()["outcome"] == "subscribed"


class TestMetering:
    async def test_messages_beyond_the_allowance_are_reported_to_stripe_once(
        self,
        stripe: Stripe,
        customer: Tenant,
        billing_db: Database,
        publish: Publish,
    ) -> None:
        # Given an end user on a plan of one message a month, then 2 cents a message
        pro = await stripe.plan("pro", 1999, messages_monthly=1, overage_price="0.02")
        address = subscriber()
        await paid(stripe, customer, pro, address)
        # When three messages go to them (the last reported twice: sent, then delivered)
        messages = [uuid4() for _ in range(3)]
        for message in messages:
            await publish(sms_status(customer.id, message, "sent", to=address))
        await publish(sms_status(customer.id, messages[-1], "delivered", to=address))

        async def counted() -> bool:
            response = await stripe.billing.get(
                "/v1/quota", params={"contact_address": address}, headers=customer.headers
            )
            return bool(response.json()["used"]["messages_this_month"] == 3)

        await eventually(counted)
        # Then the two beyond the allowance reach Stripe's meter, each once, under our keys
        reporter = UsageReporter(billing_db, stripe.gateway, "switchboard_messages", _now)
        assert await reporter.report_due() == 2
        assert await reporter.report_due() == 0
        reported = list(stripe.fake.meter_events.values())
        assert [e["payload"]["value"] for e in reported] == ["1", "1"]
        keys = [r["idempotency_key"] for r in stripe.requests_to("/v1/billing/meter_events")]
        assert sorted(keys) == sorted(f"usage:{e['identifier']}" for e in reported)
        # And the plan does not stop them: the allowance is billed beyond, not enforced
        left = await stripe.billing.get(
            "/v1/quota", params={"contact_address": address}, headers=customer.headers
        )
        assert "messages" not in left.json()["remaining"]


def _now() -> datetime:
    return datetime.now(UTC)


class TestFamily:
    async def test_a_sponsor_pays_for_lines_and_sees_their_usage(
        self,
        stripe: Stripe,
        customer: Tenant,
        entitlements: EventLog,
        billing_db: Database,
    ) -> None:
        family = await stripe.plan("family", 799, per_line=True, messages_monthly=500)
        sponsor, child = subscriber(), subscriber()
        stripe_id = await paid(stripe, customer, family, sponsor)
        # When the sponsor adds their child's line
        response = await stripe.billing.post(
            f"/v1/subscriptions/{sponsor}/lines",
            json={"contact_address": child},
            headers=customer.headers,
        )
        assert response.status_code == 201, response.text
        # Then Stripe bills two lines, prorated, and the child has an allowance of their own
        [more] = stripe.requests_to(f"/v1/subscriptions/{stripe_id}")
        assert more["params"]["items"][0]["quantity"] == "2"
        assert more["idempotency_key"].startswith("lines:")
        await latest_entitlement(entitlements, customer, child, plan=family, state="active")
        lines = await stripe.billing.get(
            f"/v1/subscriptions/{sponsor}/lines", headers=customer.headers
        )
        assert lines.status_code == 200, lines.text
        [line] = lines.json()
        assert (line["contact_address"], line["remaining"]["messages"]) == (child, 500)
        # When the sponsor's payment fails and the grace period ends, the child's line stops too
        await stripe.deliver(*stripe.fake.fail_payment(stripe_id))
        await Dunning(billing_db, lambda: datetime.now(UTC) + timedelta(days=8)).suspend_overdue()
        await latest_entitlement(entitlements, customer, child, state="suspended")
        # A line of another plan's subscriber, or a second line for one, is refused
        again = await stripe.billing.post(
            f"/v1/subscriptions/{sponsor}/lines",
            json={"contact_address": child},
            headers=customer.headers,
        )
        assert again.status_code == 409, again.text
        # Removing the line bills one line again
        removed = await stripe.billing.delete(
            f"/v1/subscriptions/{sponsor}/lines/{child}", headers=customer.headers
        )
        assert removed.status_code == 204, removed.text
        assert stripe.fake.subscriptions[stripe_id]["items"]["data"][0]["quantity"] == 1
        await latest_entitlement(entitlements, customer, child, plan="none")
