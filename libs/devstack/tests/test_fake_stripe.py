"""The Stripe fake as the official SDK sees it, over real HTTP: objects, idempotency, the
customer's actions, and webhook signatures."""

from __future__ import annotations

import time

import pytest
import stripe

from switchboard.devstack.fake_stripe import FakeStripe

KEY = "sk_test_fake_stripe_key"
PRICES = {
    "price_basic": {"unit_amount": 499, "currency": "usd", "recurring": {"interval": "month"}},
    "price_pro": {"unit_amount": 1999, "currency": "usd", "recurring": {"interval": "month"}},
}
START = 1_700_000_000  # 2023-11-14T22:13:20Z: its period ends 30 days later


class Clock:
    def __init__(self) -> None:
        self.now = float(START)

    def __call__(self) -> float:
        return self.now


def sdk(url: str, key: str = KEY) -> stripe.StripeClient:
    return stripe.StripeClient(
        key, base_addresses={"api": url}, http_client=stripe.HTTPXClient(), max_network_retries=0
    )


@pytest.fixture
async def stripe_fake(serve) -> tuple[FakeStripe, stripe.StripeClient]:
    fake = FakeStripe(api_key=KEY, webhook_secret="whsec_test", prices=PRICES, clock=Clock())
    return fake, sdk(await serve(fake.app()))


async def checkout(client: stripe.StripeClient, customer: str, key: str = "checkout-1") -> str:
    params = {
        "mode": "subscription",
        "customer": customer,
        "client_reference_id": "ref-1",
        "success_url": "https://app.test/done",
        "cancel_url": "https://app.test/cancel",
        "line_items": [{"price": "price_basic", "quantity": 1}],
        "metadata": {"tenant_id": "t-1"},
        "subscription_data": {"metadata": {"tenant_id": "t-1", "address": "+15550001"}},
    }
    session = await client.v1.checkout.sessions.create_async(params, {"idempotency_key": key})
    return str(session.id)


async def subscribed(fake: FakeStripe, client: stripe.StripeClient) -> str:
    customer = await client.v1.customers.create_async({"email": "a@b.test"})
    events = fake.complete_checkout(await checkout(client, customer.id))
    return str(events[0]["data"]["object"]["subscription"])


async def test_customers_and_sessions_are_created_once_per_idempotency_key(stripe_fake) -> None:
    fake, client = stripe_fake
    params = {"email": "a@b.test", "metadata": {"tenant_id": "t-1"}}
    customer = await client.v1.customers.create_async(params, {"idempotency_key": "cus-1"})
    again = await client.v1.customers.create_async(params, {"idempotency_key": "cus-1"})
    assert customer.id.startswith("cus_")
    assert again.id == customer.id
    assert list(fake.customers) == [customer.id]
    assert customer.metadata["tenant_id"] == "t-1"
    assert not customer.livemode
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.customers.create_async({"email": "c@d.test"}, {"idempotency_key": "cus-1"})
    assert (await client.v1.customers.retrieve_async(customer.id)).email == "a@b.test"

    session_id = await checkout(client, customer.id)
    session = await client.v1.checkout.sessions.retrieve_async(session_id)
    assert session.id.startswith("cs_")
    assert session.status == "open"
    assert session.url.endswith(f"/pay/{session_id}")
    assert session.subscription is None
    assert (session.customer, session.client_reference_id) == (customer.id, "ref-1")
    created = next(r for r in fake.requests if r["path"] == "/v1/checkout/sessions")
    assert created["idempotency_key"] == "checkout-1"
    assert created["params"]["line_items"] == [{"price": "price_basic", "quantity": "1"}]
    assert created["params"]["subscription_data"]["metadata"]["tenant_id"] == "t-1"
    assert await checkout(client, customer.id) == session_id
    assert len(fake.checkout_sessions) == 1

    with pytest.raises(stripe.InvalidRequestError, match="No such price: 'price_gone'") as gone:
        await client.v1.checkout.sessions.create_async(
            {"mode": "subscription", "line_items": [{"price": "price_gone", "quantity": 1}]}
        )
    assert gone.value.code == "resource_missing"
    portal = await client.v1.billing_portal.sessions.create_async(
        {"customer": customer.id, "return_url": "https://app.test"}
    )
    assert portal.id.startswith("bps_")
    assert portal.object == "billing_portal.session"


async def test_completed_checkout_makes_a_subscription_and_its_events(stripe_fake) -> None:
    fake, client = stripe_fake
    customer = await client.v1.customers.create_async({"email": "a@b.test"})
    events = fake.complete_checkout(await checkout(client, customer.id))
    assert [e["type"] for e in events] == [
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.paid",
    ]
    assert events[0]["created"] < events[1]["created"] < events[2]["created"]
    assert {e["api_version"] for e in events} == {stripe.api_version}
    sub_id = events[0]["data"]["object"]["subscription"]

    sub = await client.v1.subscriptions.retrieve_async(sub_id, {"expand": ["latest_invoice"]})
    assert (sub.status, sub.customer, sub.metadata["address"]) == (
        "active",
        customer.id,
        "+15550001",
    )
    item = sub["items"]["data"][0]
    assert (item["price"]["id"], item["quantity"], item["price"]["unit_amount"]) == (
        "price_basic",
        1,
        499,
    )
    assert sub.current_period_end - sub.current_period_start == 30 * 24 * 3600
    assert sub.latest_invoice.status == "paid"
    assert sub.latest_invoice.amount_paid == 499
    invoices = await client.v1.invoices.list_async({"customer": customer.id, "limit": 5})
    assert [i.id for i in invoices.data] == [sub.latest_invoice.id]


async def test_an_upgrade_is_prorated_and_a_cancel_ends_the_subscription(stripe_fake) -> None:
    fake, client = stripe_fake
    sub_id = await subscribed(fake, client)
    item = fake.subscriptions[sub_id]["items"]["data"][0]["id"]
    fake.clock.now += 15 * 24 * 3600  # halfway through the period
    update = {"items": [{"id": item, "price": "price_pro", "quantity": 2}]}
    changed = await client.v1.subscriptions.update_async(
        sub_id,
        {**update, "proration_behavior": "create_prorations"},
        {"idempotency_key": "change-1"},
    )
    assert changed["items"]["data"][0]["price"]["id"] == "price_pro"
    # (2 x 1999 - 499) x 1/2 = 1749.5, rounded half up
    draft = (await client.v1.invoices.list_async({"subscription": sub_id, "limit": 1})).data[0]
    assert (draft.status, draft.total, draft.lines.data[0].proration) == ("draft", 1750, True)
    updated = fake.events[-1]
    assert updated["type"] == "customer.subscription.updated"
    previous = updated["data"]["previous_attributes"]["items"]["data"][0]
    assert (previous["price"]["id"], previous["quantity"]) == ("price_basic", 1)

    canceled = await client.v1.subscriptions.cancel_async(sub_id)
    assert canceled.status == "canceled"
    assert canceled.canceled_at == int(fake.clock.now)
    assert fake.events[-1]["type"] == "customer.subscription.deleted"


async def test_a_failed_payment_and_its_settlement(stripe_fake) -> None:
    fake, client = stripe_fake
    sub_id = await subscribed(fake, client)
    failed = fake.fail_payment(sub_id)
    assert [e["type"] for e in failed] == [
        "invoice.payment_failed",
        "customer.subscription.updated",
    ]
    assert fake.subscriptions[sub_id]["status"] == "past_due"
    assert failed[1]["data"]["previous_attributes"]["status"] == "active"
    paid = fake.pay(sub_id)
    assert [e["type"] for e in paid] == ["invoice.paid", "customer.subscription.updated"]
    invoices = await client.v1.invoices.list_async({"subscription": sub_id})
    assert [(i.status, i.amount_paid) for i in invoices.data] == [("paid", 499), ("paid", 499)]
    assert invoices.data[0].id == failed[0]["data"]["object"]["id"]  # newest first


async def test_meter_events_refuse_a_repeated_identifier(stripe_fake) -> None:
    fake, client = stripe_fake
    event = {
        "event_name": "messages",
        "identifier": "usage-1",
        "payload": {"stripe_customer_id": "cus_x", "value": "3"},
        "timestamp": START,
    }
    accepted = await client.v1.billing.meter_events.create_async(event)
    assert (accepted.identifier, accepted.payload["value"]) == ("usage-1", "3")
    with pytest.raises(stripe.InvalidRequestError, match="already exists") as repeated:
        await client.v1.billing.meter_events.create_async(event)
    assert repeated.value.headers["stripe-should-retry"] == "false"
    assert list(fake.meter_events) == ["usage-1"]


async def test_refusals(serve) -> None:
    fake = FakeStripe(api_key=KEY)
    url = await serve(fake.app())
    client = sdk(url)
    with pytest.raises(stripe.AuthenticationError):
        await sdk(url, "sk_test_wrong").v1.customers.create_async({"email": "a@b.test"})
    fake.fail_with = [(500, "api_error")]
    with pytest.raises(stripe.APIError):
        await client.v1.customers.create_async({"email": "a@b.test"}, {"idempotency_key": "k"})
    # A failure is not kept for its key: the retry is taken
    assert await client.v1.customers.create_async({"email": "a@b.test"}, {"idempotency_key": "k"})
    assert len(fake.customers) == 1


def test_signed_events_pass_the_sdks_verification() -> None:
    fake = FakeStripe(api_key=KEY, webhook_secret="whsec_test")
    event = {"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"object": {}}}
    body, headers = fake.signed(event)
    assert headers["Content-Type"] == "application/json"
    verified = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_test")
    assert verified.type == "invoice.paid"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_other")
    _, stale = fake.signed(event, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, stale["Stripe-Signature"], "whsec_test")
    _, other = fake.signed(event, secret="whsec_other")
    assert stripe.Webhook.construct_event(body, other["Stripe-Signature"], "whsec_other")
