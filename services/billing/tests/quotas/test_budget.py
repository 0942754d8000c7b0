"""A tenant's monthly budget: each threshold its spending crosses is announced once, on the
`billing` topic, whatever the redeliveries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from switchboard.contracts import BudgetThresholdReached, Topic, tenant_key
from switchboard.devstack.testkit import EventLog, Publish, eventually

from ..helpers import Tenant, llm_usage

pytestmark = pytest.mark.usefixtures("billing_worker")


async def budget_of(billing: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    response = await billing.get("/v1/budget", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestBudget:
    async def test_each_threshold_is_announced_once_as_spending_crosses_it(
        self,
        billing: httpx.AsyncClient,
        customer: Tenant,
        publish: Publish,
        billing_events: EventLog,
    ) -> None:
        # Given a budget of $1.00 a month, announced at half and at all of it
        response = await billing.put(
            "/v1/budget",
            json={"monthly_amount": "1.00", "thresholds": [100, 50]},
            headers=customer.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["thresholds"] == [50, 100]
        # When model calls cost $0.60, then $0.30 (redelivered), then $0.20
        first = llm_usage(customer.id, cost="0.60")
        await publish(first)
        [(key, half)] = await billing_events.wait(
            Topic.BILLING, customer.id, lambda events: len(events) >= 1
        )
        # Then crossing half the budget is announced, keyed by the tenant
        assert key == tenant_key(customer.id)
        assert isinstance(half, BudgetThresholdReached)
        assert (half.data.threshold_percent, half.data.spent) == (50, Decimal("0.60"))
        second = llm_usage(customer.id, cost="0.30")
        await publish(second)
        await publish(second)
        await eventually(
            lambda: _spent_is(billing, customer, Decimal("0.90")),
        )
        assert len(billing_events.of(Topic.BILLING, customer.id)) == 1
        await publish(llm_usage(customer.id, cost="0.20"))
        records = await billing_events.wait(
            Topic.BILLING, customer.id, lambda events: len(events) >= 2
        )
        full = records[-1][1]
        assert isinstance(full, BudgetThresholdReached)
        assert (full.data.threshold_percent, full.data.spent) == (100, Decimal("1.10"))
        budget = await budget_of(billing, customer)
        assert budget["alerted_this_month"] == [50, 100]
        # Lowering the budget below what was spent announces nothing twice
        lowered = await billing.put(
            "/v1/budget",
            json={"monthly_amount": "0.50", "thresholds": [50, 100]},
            headers=customer.headers,
        )
        assert lowered.status_code == 200, lowered.text
        assert len(billing_events.of(Topic.BILLING, customer.id)) == 2

    async def test_a_budget_is_validated(
        self, billing: httpx.AsyncClient, customer: Tenant
    ) -> None:
        missing = await billing.get("/v1/budget", headers=customer.headers)
        assert missing.status_code == 404, missing.text
        for bad in ({"monthly_amount": "0"}, {"monthly_amount": "5", "thresholds": [0]}):
            response = await billing.put("/v1/budget", json=bad, headers=customer.headers)
            assert response.status_code == 422, response.text


async def _spent_is(billing: httpx.AsyncClient, tenant: Tenant, amount: Decimal) -> bool:
    return Decimal((await budget_of(billing, tenant))["spent_this_month"]) == amount
