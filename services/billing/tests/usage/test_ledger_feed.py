"""The worker feeds the ledger from real events; the HTTP API shows what a tenant used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from switchboard.devstack.testkit import Publish, eventually

from ..helpers import Tenant, ledger_of, llm_usage, sms_status, usage_of

pytestmark = pytest.mark.usefixtures("billing_worker")


async def ledger_has(billing: httpx.AsyncClient, tenant: Tenant, source_id: str) -> bool:
    return any(row["source_id"] == source_id for row in await ledger_of(billing, tenant))


class TestUsageRecorded:
    async def test_llm_tokens_show_in_totals_and_ledger(
        self, billing: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given the assistant answered with one LLM call
        event = llm_usage(customer.id, tokens=1200, cost="0.0024")
        # When the conversation service reports its usage
        await publish(event)
        # Then the tenant sees the tokens and their cost
        await eventually(lambda: ledger_has(billing, customer, event.data.source_id))
        totals = await usage_of(billing, customer)
        assert totals == {
            "llm_tokens": {
                "kind": "llm_tokens",
                "unit": "tokens",
                "quantity": 1200,
                "cost": "0.0024",
                "currency": "USD",
                "entries": 1,
            }
        }
        [row] = await ledger_of(billing, customer)
        assert (row["model"], row["provider"], row["priced_by"]) == (
            "echo-1",
            "offline",
            "reported",
        )

    async def test_a_redelivered_event_counts_once(
        self, billing: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given a usage event that reaches the broker twice
        event = llm_usage(customer.id, tokens=100, cost="0.0002")
        await publish(event)
        await publish(event)
        # When a later event on the same partition has been processed
        later = llm_usage(customer.id, tokens=1, cost="0.000002")
        await publish(later)
        await eventually(lambda: ledger_has(billing, customer, later.data.source_id))
        # Then the first one counted once
        totals = await usage_of(billing, customer)
        assert totals["llm_tokens"]["quantity"] == 101
        assert totals["llm_tokens"]["entries"] == 2
        assert totals["llm_tokens"]["cost"] == "0.000202"

    async def test_one_fact_reported_by_two_events_counts_once(
        self, billing: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given two distinct events that report the same LLM call
        await publish(llm_usage(customer.id, tokens=500, source_id="call-1"))
        await publish(llm_usage(customer.id, tokens=500, source_id="call-1"))
        later = llm_usage(customer.id, tokens=1)
        await publish(later)
        # When both have been processed
        await eventually(lambda: ledger_has(billing, customer, later.data.source_id))
        # Then the call is billed once
        totals = await usage_of(billing, customer)
        assert totals["llm_tokens"]["quantity"] == 501


class TestSmsSegments:
    async def test_sent_then_delivered_bills_the_message_once_at_the_rate_card(
        self, billing: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given a two-segment SMS that was sent, then delivered, without a provider price
        message_id = uuid4()
        await publish(sms_status(customer.id, message_id, "sent", segments=2))
        await publish(sms_status(customer.id, message_id, "delivered", segments=2))
        # When a later message to the same contact has been billed too
        later = uuid4()
        await publish(sms_status(customer.id, later, "sent", segments=1))
        await eventually(lambda: ledger_has(billing, customer, str(later)))
        # Then the first message is one ledger row of two segments at $0.0079 each
        rows = {row["source_id"]: row for row in await ledger_of(billing, customer)}
        assert set(rows) == {str(message_id), str(later)}
        first = rows[str(message_id)]
        assert (first["kind"], first["quantity"], first["unit"]) == ("sms_segments", 2, "segments")
        assert (first["cost"], first["priced_by"]) == ("0.0158", "rate_card")
        totals = await usage_of(billing, customer)
        assert (totals["sms_segments"]["quantity"], totals["sms_segments"]["cost"]) == (3, "0.0237")

    async def test_the_providers_price_replaces_the_estimate(
        self, billing: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given a message sent without a price, whose delivery report carries Twilio's price
        message_id = uuid4()
        await publish(sms_status(customer.id, message_id, "sent", segments=2))
        await publish(sms_status(customer.id, message_id, "delivered", segments=2, price="0.0166"))

        # When both have been processed
        async def priced() -> bool:
            rows = await ledger_of(billing, customer)
            return [r["priced_by"] for r in rows] == ["reported"]

        await eventually(priced)
        # Then the message costs what the provider charged, still once
        totals = await usage_of(billing, customer)
        assert (totals["sms_segments"]["quantity"], totals["sms_segments"]["cost"]) == (2, "0.0166")

    async def test_statuses_that_bill_nothing(
        self, billing: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given messages that were queued, failed, had no segment count, or went over WhatsApp
        await publish(sms_status(customer.id, uuid4(), "queued"))
        await publish(sms_status(customer.id, uuid4(), "failed"))
        await publish(sms_status(customer.id, uuid4(), "sent", segments=None))
        await publish(sms_status(customer.id, uuid4(), "delivered", channel="whatsapp"))
        # When a billable message after them has been processed
        later = uuid4()
        await publish(sms_status(customer.id, later, "delivered", segments=1))
        await eventually(lambda: ledger_has(billing, customer, str(later)))
        # Then only that one is in the ledger
        assert [row["source_id"] for row in await ledger_of(billing, customer)] == [str(later)]


class TestTenantIsolation:
    async def test_another_tenant_sees_none_of_the_usage(
        self,
        billing: httpx.AsyncClient,
        customer: Tenant,
        other_customer: Tenant,
        publish: Publish,
    ) -> None:
        # Given a tenant with LLM and SMS usage
        event = llm_usage(customer.id)
        await publish(event)
        await publish(sms_status(customer.id, uuid4(), "sent"))
        await eventually(lambda: ledger_has(billing, customer, event.data.source_id))
        # When another tenant looks at its usage
        totals = await usage_of(billing, other_customer)
        ledger = await ledger_of(billing, other_customer)
        # Then it sees nothing
        assert totals == {}
        assert ledger == []


class TestPeriod:
    async def test_only_usage_inside_the_period_is_counted(
        self, billing: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given a call 40 days ago (last month) and one now
        old = llm_usage(customer.id, tokens=10, occurred_at=datetime.now(UTC) - timedelta(days=40))
        await publish(old)
        recent = llm_usage(customer.id, tokens=5)
        await publish(recent)
        await eventually(lambda: ledger_has(billing, customer, recent.data.source_id))
        # When the tenant asks for this month, then for the last 60 days
        this_month = await usage_of(billing, customer)
        since = (datetime.now(UTC) - timedelta(days=60)).isoformat()
        sixty_days = await usage_of(billing, customer, **{"from": since})
        # Then the month holds only the recent call, the wider window both
        assert this_month["llm_tokens"]["quantity"] == 5
        assert sixty_days["llm_tokens"]["quantity"] == 15
