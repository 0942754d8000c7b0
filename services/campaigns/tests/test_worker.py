"""The worker keeps campaigns' copy of contacts in step with the `contacts` topic."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from switchboard.campaigns.worker import CONSUMER_GROUP
from switchboard.contracts import (
    ContactData,
    ContactDeleted,
    ContactDeletedData,
    ContactUpserted,
    Topic,
)

pytestmark = pytest.mark.usefixtures("worker")


class Tenant(Protocol):
    """A tenant from the fixtures: its id and the headers carrying its API key."""

    id: UUID

    @property
    def headers(self) -> dict[str, str]: ...


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    """Wait until `check` passes; fail the test if the deadline passes first."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.05)


def random_number() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


async def publish(producer: AIOKafkaProducer, event: ContactUpserted | ContactDeleted) -> None:
    """Put an event on `contacts` as the conversation service does, keyed by contact."""
    key = str(event.data.contact_id).encode()
    await producer.send_and_wait(Topic.CONTACTS.value, event.model_dump_json().encode(), key=key)


def upserted(tenant: Tenant, contact_id: UUID, **fields: Any) -> ContactUpserted:
    data = ContactData(
        contact_id=contact_id, address=fields.pop("address", random_number()), **fields
    )
    return ContactUpserted.create(tenant.id, data)


async def contacts(campaigns: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    response = await campaigns.get("/v1/contacts", headers=tenant.headers)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def processed(outcome: str) -> float:
    """How many `contacts` records the worker's consumer finished with this outcome."""
    labels = {"consumer": CONSUMER_GROUP, "topic": Topic.CONTACTS.value, "outcome": outcome}
    return REGISTRY.get_sample_value("kafka_consumer_messages_total", labels) or 0.0


class TestContactUpserted:
    async def test_a_published_contact_appears(
        self, campaigns: httpx.AsyncClient, producer: AIOKafkaProducer, customer: Tenant
    ) -> None:
        # Given a contact the conversation service published
        contact_id = uuid4()
        event = upserted(
            customer,
            contact_id,
            display_name="Ada",
            time_zone="Europe/London",
            attributes={"tier": "gold"},
        )
        # When the worker takes it from the topic
        await publish(producer, event)

        # Then campaigns lists the contact as published
        async def listed() -> bool:
            return bool(await contacts(campaigns, customer))

        await eventually(listed)
        assert await contacts(campaigns, customer) == [
            {
                "contact_id": str(contact_id),
                "address": event.data.address,
                "display_name": "Ada",
                "time_zone": "Europe/London",
                "attributes": {"tier": "gold"},
                "blocked": False,
                "updated_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
            }
        ]

    async def test_a_newer_version_replaces_the_contact(
        self, campaigns: httpx.AsyncClient, producer: AIOKafkaProducer, customer: Tenant
    ) -> None:
        # Given a contact, then a later change that blocks it
        contact_id = uuid4()
        await publish(producer, upserted(customer, contact_id, display_name="Ada"))
        await publish(producer, upserted(customer, contact_id, display_name="Ada L.", blocked=True))

        # Then the replica holds the latest version only
        async def blocked() -> bool:
            return [c["blocked"] for c in await contacts(campaigns, customer)] == [True]

        await eventually(blocked)
        assert [c["display_name"] for c in await contacts(campaigns, customer)] == ["Ada L."]

    async def test_a_stale_version_does_not_overwrite_a_newer_one(
        self, campaigns: httpx.AsyncClient, producer: AIOKafkaProducer, customer: Tenant
    ) -> None:
        # Given a contact's newest version, followed by an older one
        contact_id = uuid4()
        newest = upserted(customer, contact_id, display_name="New")
        stale = upserted(customer, contact_id, display_name="Old").model_copy(
            update={"occurred_at": newest.occurred_at - timedelta(minutes=5)}
        )
        already = processed("processed")
        await publish(producer, newest)
        await publish(producer, stale)

        # When the worker has processed both
        async def both_processed() -> bool:
            return processed("processed") >= already + 2

        await eventually(both_processed)
        # Then the newest version stands
        assert [c["display_name"] for c in await contacts(campaigns, customer)] == ["New"]

    async def test_filtered_by_address(
        self, campaigns: httpx.AsyncClient, producer: AIOKafkaProducer, customer: Tenant
    ) -> None:
        first, second = upserted(customer, uuid4()), upserted(customer, uuid4())
        await publish(producer, first)
        await publish(producer, second)

        async def both_listed() -> bool:
            return len(await contacts(campaigns, customer)) == 2

        await eventually(both_listed)
        response = await campaigns.get(
            "/v1/contacts", params={"address": second.data.address}, headers=customer.headers
        )
        assert [c["contact_id"] for c in response.json()] == [str(second.data.contact_id)]
        malformed = await campaigns.get(
            "/v1/contacts", params={"address": "555-1234"}, headers=customer.headers
        )
        assert malformed.status_code == 422


class TestContactDeleted:
    async def test_a_deleted_contact_disappears(
        self, campaigns: httpx.AsyncClient, producer: AIOKafkaProducer, customer: Tenant
    ) -> None:
        # Given a contact campaigns knows
        contact_id = uuid4()
        await publish(producer, upserted(customer, contact_id))

        async def listed() -> bool:
            return len(await contacts(campaigns, customer)) == 1

        await eventually(listed)
        # When the conversation service deletes it
        deleted = ContactDeleted.create(customer.id, ContactDeletedData(contact_id=contact_id))
        await publish(producer, deleted)

        # Then campaigns forgets it
        async def gone() -> bool:
            return await contacts(campaigns, customer) == []

        await eventually(gone)


class TestRedelivery:
    async def test_a_redelivered_event_is_applied_once(
        self, campaigns: httpx.AsyncClient, producer: AIOKafkaProducer, customer: Tenant
    ) -> None:
        # Given a contact that was published, then deleted
        contact_id = uuid4()
        created = upserted(customer, contact_id)
        await publish(producer, created)
        await publish(
            producer, ContactDeleted.create(customer.id, ContactDeletedData(contact_id=contact_id))
        )
        duplicates = processed("duplicate")

        # When the broker delivers the first event again
        await publish(producer, created)

        # Then it is counted as a duplicate, and the contact does not come back
        async def recognised() -> bool:
            return processed("duplicate") == duplicates + 1

        await eventually(recognised)
        assert await contacts(campaigns, customer) == []


class TestTenantIsolation:
    async def test_another_tenants_contacts_are_not_listed(
        self,
        campaigns: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        customer: Tenant,
        stranger: Tenant,
    ) -> None:
        # Given a contact of one tenant
        await publish(producer, upserted(customer, uuid4()))

        async def listed() -> bool:
            return len(await contacts(campaigns, customer)) == 1

        await eventually(listed)
        # Then another tenant does not see it
        assert await contacts(campaigns, stranger) == []
