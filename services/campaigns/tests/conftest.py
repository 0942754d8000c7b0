"""Campaigns in this process: its HTTP app, and its worker's contacts consumer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Protocol
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from switchboard.campaigns.app import create_app
from switchboard.campaigns.worker import contacts_consumer
from switchboard.common.db import Database
from switchboard.common.kafka import create_producer
from switchboard.common.settings import PlatformSettings
from switchboard.devstack.testkit import TenantKey, in_process


class Tenant(Protocol):
    """A tenant from the fixtures: its id and the headers carrying its API key."""

    id: UUID

    @property
    def headers(self) -> dict[str, str]: ...


@pytest.fixture(scope="session")
def campaigns_app(platform_env: dict[str, str]) -> FastAPI:
    return create_app()


@pytest.fixture(scope="session")
async def campaigns(campaigns_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The campaigns HTTP app, with its tenants replica reading the real broker."""
    async with in_process(campaigns_app, "campaigns") as client:
        yield client


@pytest.fixture
async def customer(campaigns: httpx.AsyncClient, tenant: Tenant) -> Tenant:
    """A fresh tenant whose API key campaigns already accepts."""
    await wait_until_key_accepted(campaigns, tenant.headers)
    return tenant


@pytest.fixture
async def stranger(
    campaigns: httpx.AsyncClient, gateway: httpx.AsyncClient, admin_key: str
) -> TenantKey:
    """A second fresh tenant, to show that one tenant never sees another's data."""
    return await _new_tenant(campaigns, gateway, admin_key, "Stranger")


@pytest.fixture(scope="module")
async def onlooker(
    campaigns: httpx.AsyncClient, gateway: httpx.AsyncClient, admin_key: str
) -> TenantKey:
    """One tenant shared by a module's tests that store nothing (saves a key's propagation)."""
    return await _new_tenant(campaigns, gateway, admin_key, "Onlooker")


async def _new_tenant(
    campaigns: httpx.AsyncClient, gateway: httpx.AsyncClient, admin_key: str, name: str
) -> TenantKey:
    response = await gateway.post(
        "/v1/tenants", json={"name": name}, headers={"Authorization": f"Bearer {admin_key}"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    tenant = TenantKey(id=UUID(body["id"]), api_key=body["api_key"]["api_key"])
    await wait_until_key_accepted(campaigns, tenant.headers)
    return tenant


@pytest.fixture(scope="session")
async def producer(platform_env: dict[str, str]) -> AsyncIterator[AIOKafkaProducer]:
    """Publishes events to the broker as another service would."""
    platform = PlatformSettings()
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="test-campaigns")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture(scope="session")
async def worker(platform_env: dict[str, str], producer: AIOKafkaProducer) -> AsyncIterator[None]:
    """The worker's `campaigns` consumer on `contacts`, running as a task."""
    platform = PlatformSettings()
    db = Database(platform.database_url, pool_size=2)
    consumer = contacts_consumer(db, producer, platform.kafka_bootstrap_servers)
    task = asyncio.create_task(consumer.run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await db.dispose()


async def wait_until_key_accepted(campaigns: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Keys reach campaigns through the `tenants` topic: wait for this one to arrive."""
    deadline = time.monotonic() + 15.0
    while (await campaigns.get("/v1/events", headers=headers)).status_code == 401:
        assert time.monotonic() < deadline, "the API key never reached campaigns"
        await asyncio.sleep(0.05)
