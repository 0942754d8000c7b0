"""Plans, subscriptions and the quotas they leave: counted from the ledger as usage arrives (once
per fact), published as entitlements when a counter runs out or a plan changes, and refilled
when the period turns."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest

from switchboard.billing.quotas.limits import next_month
from switchboard.billing.quotas.resets import QuotaResets
from switchboard.common.db import Database
from switchboard.contracts import EntitlementChanged, Topic, contact_key, tenant_key
from switchboard.devstack.testkit import EventLog, Publish, eventually

from ..helpers import Tenant, llm_usage, sms_status

pytestmark = pytest.mark.usefixtures("billing_worker")


def admin(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def tiny_plan(billing: httpx.AsyncClient, admin_key: str, **limits: Any) -> str:
    """A plan of the tests' own, with these limits."""
    plan_id = f"test-{secrets.token_hex(4)}"
    body = {"name": "Tiny", "price": "1.00"} | limits
    response = await billing.put(f"/v1/plans/{plan_id}", json=body, headers=admin(admin_key))
    assert response.status_code == 200, response.text
    return plan_id


async def entitled(log: EventLog, tenant: Tenant, count: int) -> list[EntitlementChanged]:
    """The tenant's entitlements on the topic, once there are `count`."""
    records = await log.wait(Topic.ENTITLEMENTS, tenant.id, lambda events: len(events) >= count)
    events = [event for _, event in records]
    assert all(isinstance(e, EntitlementChanged) for e in events)
    return events  # type: ignore[return-value]


async def quota(billing: httpx.AsyncClient, tenant: Tenant, **params: str) -> dict[str, Any]:
    response = await billing.get("/v1/quota", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestPlans:
    async def test_the_consumer_plans_are_seeded(
        self, billing: httpx.AsyncClient, customer: Tenant
    ) -> None:
        response = await billing.get("/v1/plans", headers=customer.headers)
        assert response.status_code == 200, response.text
        plans = {plan["id"]: plan for plan in response.json()}
        prices = {name: (plans[name]["price"], plans[name]["per_line"]) for name in
                  ("free", "basic", "unlimited", "family")}  # fmt: skip
        assert prices == {
            "free": ("0.00", False),
            "basic": ("4.99", False),
            "unlimited": ("9.99", False),
            "family": ("7.99", True),
        }
        assert plans["free"]["messages_monthly"] == 50
        assert plans["unlimited"]["messages_monthly"] is None

    async def test_only_the_platform_admin_writes_plans(
        self, billing: httpx.AsyncClient, customer: Tenant, admin_key: str
    ) -> None:
        body = {"name": "Pro", "price": "19.99", "messages_monthly": 5000}
        refused = await billing.put("/v1/plans/pro", json=body, headers=customer.headers)
        assert refused.status_code == 403, refused.text
        plan_id = await tiny_plan(billing, admin_key, messages_monthly=3)
        listed = await billing.get(f"/v1/plans/{plan_id}", headers=customer.headers)
        assert listed.json()["messages_monthly"] == 3
        bad = await billing.put(
            "/v1/plans/Not A Slug", json={"name": "x", "price": "-1"}, headers=admin(admin_key)
        )
        assert bad.status_code == 422, bad.text


class TestQuotas:
    async def test_messages_run_out_once_and_a_redelivery_counts_nothing(
        self,
        billing: httpx.AsyncClient,
        customer: Tenant,
        admin_key: str,
        publish: Publish,
        entitlements: EventLog,
    ) -> None:
        # Given a tenant on a plan of two messages a month
        plan_id = await tiny_plan(billing, admin_key, messages_monthly=2)
        response = await billing.put(
            f"/v1/tenants/{customer.id}/subscription",
            json={"plan": plan_id},
            headers=admin(admin_key),
        )
        assert response.status_code == 200, response.text
        # Then its entitlement is published at once, keyed by the tenant
        [first] = await entitled(entitlements, customer, 1)
        assert (first.data.plan, first.data.remaining) == (plan_id, {"messages": 2,
                                                                     "ai_replies": 2})  # fmt: skip
        assert first.data.limits == {"messages_monthly": 2}
        # When one SMS is sent, reported twice (sent, then delivered), and redelivered
        one = uuid4()
        for status in ("sent", "delivered", "delivered"):
            await publish(sms_status(customer.id, one, status))  # type: ignore[arg-type]
        await eventually(lambda: _used(billing, customer, 1))
        # Then it counts once, and nothing is published (nothing ran out)
        # When a second SMS goes
        await publish(sms_status(customer.id, uuid4(), "sent"))
        # Then the messages are used up, and that is published once
        [_, exhausted] = await entitled(entitlements, customer, 2)
        assert exhausted.data.remaining == {"messages": 0, "ai_replies": 0}
        left = await quota(billing, customer)
        assert (left["used"]["messages_this_month"], left["remaining"]["messages"]) == (2, 0)
        # A third message (sent anyway, say by an operator) publishes nothing new
        await publish(sms_status(customer.id, uuid4(), "sent"))
        await eventually(lambda: _used(billing, customer, 3))
        assert len(entitlements.of(Topic.ENTITLEMENTS, customer.id)) == 2
        key, _ = entitlements.of(Topic.ENTITLEMENTS, customer.id)[-1]
        assert key == tenant_key(customer.id)

    async def test_an_end_users_tokens_run_out_and_the_month_refills_them(
        self,
        billing: httpx.AsyncClient,
        customer: Tenant,
        admin_key: str,
        publish: Publish,
        entitlements: EventLog,
        billing_db: Database,
    ) -> None:
        # Given an end user on a plan of 1,000 tokens a month
        plan_id = await tiny_plan(billing, admin_key, llm_tokens_monthly=1000)
        user = "+15557770" + str(secrets.randbelow(900) + 100)
        response = await billing.put(
            f"/v1/subscriptions/{user}", json={"plan": plan_id}, headers=customer.headers
        )
        assert response.status_code == 200, response.text
        await entitled(entitlements, customer, 1)
        # When the assistant spends 1,200 tokens answering them
        await publish(llm_usage(customer.id, tokens=1200, contact_address=user))
        # Then their tokens are used up, keyed by the tenant and the contact
        [_, spent] = await entitled(entitlements, customer, 2)
        assert (spent.data.contact_address, spent.data.remaining) == (user, {"llm_tokens": 0})
        key, _ = entitlements.of(Topic.ENTITLEMENTS, customer.id)[-1]
        assert key == contact_key(customer.id, user)
        mine = await quota(billing, customer, contact_address=user)
        assert mine["used"]["llm_tokens_this_month"] == 1200
        # When the month turns, the reset pass gives them their tokens back, once
        now = datetime.now(UTC)
        resets = QuotaResets(billing_db, lambda: next_month(now) + timedelta(minutes=1))
        assert await resets.reset_due() >= 1
        [*_, refilled] = await entitled(entitlements, customer, 3)
        assert (refilled.data.contact_address, refilled.data.remaining) == (
            user,
            {"llm_tokens": 1000},
        )
        await resets.reset_due()
        assert len(entitlements.of(Topic.ENTITLEMENTS, customer.id)) == 3

    async def test_a_plan_with_overage_does_not_stop_at_its_allowance(
        self,
        billing: httpx.AsyncClient,
        customer: Tenant,
        admin_key: str,
        publish: Publish,
        entitlements: EventLog,
    ) -> None:
        plan_id = await tiny_plan(
            billing, admin_key, messages_daily=5, messages_monthly=1, overage_price="0.02"
        )
        await billing.put(
            f"/v1/tenants/{customer.id}/subscription",
            json={"plan": plan_id},
            headers=admin(admin_key),
        )
        for _ in range(2):
            await publish(sms_status(customer.id, uuid4(), "sent"))
        await eventually(lambda: _used(billing, customer, 2))
        left = await quota(billing, customer)
        assert left["remaining"]["messages"] == 3  # the daily limit, not the allowance
        assert Decimal(left["limits"]["messages_monthly"]) == 1

    async def test_subscriptions_are_refused_for_unknown_plans_and_other_tenants(
        self, billing: httpx.AsyncClient, customer: Tenant, admin_key: str
    ) -> None:
        unknown = await billing.put(
            "/v1/subscriptions/+15550001234", json={"plan": "gold"}, headers=customer.headers
        )
        assert unknown.status_code == 400, unknown.text
        assert "basic" in unknown.text
        tenant_plan = await billing.put(
            f"/v1/tenants/{customer.id}/subscription",
            json={"plan": "basic"},
            headers=customer.headers,
        )
        assert tenant_plan.status_code == 403, tenant_plan.text
        ended = await billing.delete("/v1/subscriptions/+15550004321", headers=customer.headers)
        assert ended.status_code == 404, ended.text


async def _used(billing: httpx.AsyncClient, tenant: Tenant, messages: int) -> bool:
    body = await quota(billing, tenant)
    return bool(body["used"]["messages_this_month"] == messages)
