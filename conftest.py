"""Shared fixtures: a real broker, a real PostgreSQL, tenants made through the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest

from switchboard.common.db import Database
from switchboard.common.kafka import create_producer
from switchboard.common.outbox import OutboxRelay
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import AnyEvent, partition_key, topic_of
from switchboard.devstack.testkit import NewTenant, Publish, TenantKey, in_process
from switchboard.gateway.app import create_app as create_gateway_app
from switchboard.gateway.models import outbox as gateway_outbox

pytest_plugins = ["switchboard.devstack.testing"]


TenantHandle = TenantKey


@pytest.fixture(scope="session")
async def gateway(platform_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's HTTP app in this process, with its outbox relayed to the broker."""
    app = create_gateway_app()
    platform = PlatformSettings()
    db = Database(platform.database_url, pool_size=2)
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="test-gateway-relay")
    await producer.start()
    relay = asyncio.create_task(OutboxRelay(db, producer, gateway_outbox, idle_wait=0.2).run())
    async with in_process(app, "gateway") as client:
        yield client
    relay.cancel()
    await asyncio.gather(relay, return_exceptions=True)
    await producer.stop()
    await db.dispose()


@pytest.fixture(scope="session")
def new_tenant(gateway: httpx.AsyncClient, admin_key: str) -> NewTenant:
    """Makes fresh tenants through the gateway (tests isolate themselves by tenant)."""

    async def make() -> TenantHandle:
        admin = {"Authorization": f"Bearer {admin_key}"}
        response = await gateway.post("/v1/tenants", json={"name": "Test tenant"}, headers=admin)
        assert response.status_code == 201, response.text
        body = response.json()
        return TenantHandle(id=UUID(body["id"]), api_key=body["api_key"]["api_key"])

    return make


@pytest.fixture
async def tenant(new_tenant: NewTenant) -> TenantHandle:
    """A fresh tenant and its first API key."""
    return await new_tenant()


@pytest.fixture(scope="session")
async def publish(platform_env: dict[str, str]) -> AsyncIterator[Publish]:
    """Publish an event to its topic with the key its producer would use."""
    producer = create_producer(PlatformSettings().kafka_bootstrap_servers, client_id="test-events")
    await producer.start()

    async def send(event: AnyEvent) -> None:
        value = event.model_dump_json().encode()
        await producer.send_and_wait(topic_of(event).value, value=value, key=partition_key(event))

    yield send
    await producer.stop()
