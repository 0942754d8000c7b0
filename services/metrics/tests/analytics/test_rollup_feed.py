"""The worker counts real events into hourly rollups; the analytics API shows them."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from switchboard.contracts import utcnow
from switchboard.devstack.testkit import Publish, eventually
from switchboard.metrics.analytics.counting import hour_of

from ..helpers import (
    Tenant,
    contact,
    hourly_of,
    opted_out,
    received,
    settles,
    status,
    summary_of,
    usage,
)

pytestmark = pytest.mark.usefixtures("metrics_worker")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class TestCounting:
    async def test_a_days_traffic_shows_in_the_summary(
        self, metrics: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given a day of traffic across every topic
        tenant_id = customer.id
        for event in (
            received(tenant_id),
            received(tenant_id),
            received(tenant_id, channel="whatsapp"),
            status(tenant_id, "queued"),
            status(tenant_id, "sent", origin="reply"),
            status(tenant_id, "sent", origin="campaign"),
            status(tenant_id, "delivered"),
            status(tenant_id, "undelivered"),
            opted_out(tenant_id),
            usage(tenant_id, "llm_tokens", 1200, "0.0024", model="echo-1"),
            usage(tenant_id, "sms_segments", 2, "0.0158"),
            contact(tenant_id, uuid4()),
        ):
            await publish(event)
        # When the worker has counted it, then the summary shows each metric by dimension
        expected = {
            "messages_in": {"total": 3, "by_dimension": {"sms": 2, "whatsapp": 1}},
            "messages_out": {"total": 2, "by_dimension": {"campaign": 1, "reply": 1}},
            "messages_delivered": {"total": 1, "by_dimension": {"sms": 1}},
            "messages_failed": {"total": 1, "by_dimension": {"undelivered": 1}},
            "opt_outs": {"total": 1, "by_dimension": {"sms": 1}},
            "llm_tokens": {"total": 1200, "by_dimension": {"echo-1": 1200}},
            "usage_cost_micros": {
                "total": 18200,
                "by_dimension": {"llm_tokens": 2400, "sms_segments": 15800},
            },
            "contacts_new": {"total": 1, "by_dimension": {}},
        }
        await settles(lambda: summary_of(metrics, customer), expected)

    async def test_hourly_buckets_follow_when_events_occurred(
        self, metrics: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given two messages three hours ago and one now
        earlier = utcnow() - timedelta(hours=3)
        events = [
            received(customer.id, occurred_at=earlier),
            received(customer.id, occurred_at=earlier),
            received(customer.id),
        ]
        for event in events:
            await publish(event)
        # When the worker has counted them, then each lands in the hour it occurred in
        expected = [
            (iso(hour_of(events[0].occurred_at)), "sms", 2),
            (iso(hour_of(events[2].occurred_at)), "sms", 1),
        ]
        await settles(lambda: hourly_of(metrics, customer, "messages_in"), expected)
        # And filtering by another dimension finds nothing
        assert await hourly_of(metrics, customer, "messages_in", dimension="whatsapp") == []


class TestExactlyOnce:
    async def test_a_redelivered_event_counts_once(
        self, metrics: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given an inbound message that reaches the broker twice
        event = received(customer.id)
        await publish(event)
        await publish(event)
        # When a later message on the same partition has been counted
        await publish(received(customer.id, channel="whatsapp"))

        async def later_counted() -> bool:
            summary = await summary_of(metrics, customer)
            return "whatsapp" in summary["messages_in"]["by_dimension"]

        await eventually(later_counted)
        # Then the first message counted once
        summary = await summary_of(metrics, customer)
        assert summary["messages_in"]["by_dimension"] == {"sms": 1, "whatsapp": 1}

    async def test_a_contact_is_new_only_once(
        self, metrics: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given a contact created, then renamed
        ada = uuid4()
        created = contact(customer.id, ada, name="Ada")
        await publish(created)
        await publish(contact(customer.id, ada, name="Ada Lovelace"))
        # When another contact, backdated two hours, has been counted after them
        other = contact(customer.id, uuid4(), occurred_at=utcnow() - timedelta(hours=2))
        await publish(other)

        async def other_counted() -> bool:
            points = await hourly_of(metrics, customer, "contacts_new")
            return (iso(hour_of(other.occurred_at)), None, 1) in points

        await eventually(other_counted)
        # Then the renamed contact was new only once
        points = await hourly_of(metrics, customer, "contacts_new")
        assert (iso(hour_of(created.occurred_at)), None, 1) in points
        assert sum(value for _, _, value in points) == 2


class TestTenantIsolation:
    async def test_another_tenant_sees_none_of_the_traffic(
        self,
        metrics: httpx.AsyncClient,
        customer: Tenant,
        other_customer: Tenant,
        publish: Publish,
    ) -> None:
        # Given a tenant with traffic
        await publish(received(customer.id))
        await publish(usage(customer.id, "llm_tokens", 10, "0.00002", model="echo-1"))

        async def counted() -> bool:
            summary = await summary_of(metrics, customer)
            totals = (summary["messages_in"]["total"], summary["llm_tokens"]["total"])
            return totals == (1, 10)

        await eventually(counted)
        # When another tenant looks at its analytics, then it sees nothing
        summary = await summary_of(metrics, other_customer)
        assert {metric: total["total"] for metric, total in summary.items()} == dict.fromkeys(
            summary, 0
        )
        assert await hourly_of(metrics, other_customer, "messages_in") == []
