"""Billing in this process: its HTTP app, its worker's consumer, and a way to publish events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

import httpx
import pytest

from switchboard.billing.app import create_app
from switchboard.billing.config import BillingSettings
from switchboard.billing.worker import usage_consumer
from switchboard.common.db import Database
from switchboard.common.kafka import create_producer
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import AnyEvent, MessageStatusChanged, contact_key, tenant_key, topic_of

from .helpers import Tenant, TenantKey, wait_until_key_accepted

Publish = Callable[[AnyEvent], Awaitable[None]]


@pytest.fixture(scope="session")
async def billing(platform_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """Billing's HTTP API, its tenants replica following the broker."""
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing") as client:
            yield client


@pytest.fixture
async def customer(billing: httpx.AsyncClient, tenant: Tenant) -> Tenant:
    """A fresh tenant whose API key billing already accepts."""
    await wait_until_key_accepted(billing, tenant.headers)
    return tenant


@pytest.fixture(scope="session")
async def publish(platform_env: dict[str, str]) -> AsyncIterator[Publish]:
    """Publish an event to its topic with the key its producer would use."""
    producer = create_producer(PlatformSettings().kafka_bootstrap_servers, client_id="test-events")
    await producer.start()

    async def send(event: AnyEvent) -> None:
        key = (
            contact_key(event.tenant_id, event.data.to_address)
            if isinstance(event, MessageStatusChanged)
            else tenant_key(event.tenant_id)
        )
        await producer.send_and_wait(
            topic_of(event).value, value=event.model_dump_json().encode(), key=key
        )

    yield send
    await producer.stop()


@pytest.fixture(scope="session")
async def billing_worker(platform_env: dict[str, str]) -> AsyncIterator[None]:
    """The worker's `billing` consumer group, running as a task for the whole session."""
    platform = PlatformSettings()
    db = Database(platform.database_url, pool_size=4, application_name="billing-test-worker")
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="billing-test")
    await producer.start()
    task = asyncio.create_task(usage_consumer(platform, BillingSettings(), db, producer).run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await producer.stop()
    await db.dispose()


@pytest.fixture
async def other_customer(
    billing: httpx.AsyncClient, gateway: httpx.AsyncClient, admin_key: str
) -> Tenant:
    """A second fresh tenant, for isolation checks."""
    response = await gateway.post(
        "/v1/tenants",
        json={"name": "Other tenant"},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    tenant = TenantKey(id=UUID(body["id"]), api_key=body["api_key"]["api_key"])
    await wait_until_key_accepted(billing, tenant.headers)
    return tenant
