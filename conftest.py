"""Shared fixtures: a real broker, a real PostgreSQL, tenants made through the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import httpx
import pytest

from switchboard.common.db import Database
from switchboard.common.kafka import create_producer
from switchboard.common.outbox import OutboxRelay
from switchboard.common.settings import PlatformSettings
from switchboard.gateway.app import create_app as create_gateway_app
from switchboard.gateway.models import outbox as gateway_outbox

pytest_plugins = ["switchboard.devstack.testing"]


@dataclass(frozen=True)
class TenantHandle:
    id: UUID
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture(scope="session")
async def gateway(platform_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's HTTP app in this process, with its outbox relayed to the broker."""
    app = create_gateway_app()
    platform = PlatformSettings()
    db = Database(platform.database_url, pool_size=2)
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="test-gateway-relay")
    await producer.start()
    relay = asyncio.create_task(OutboxRelay(db, producer, gateway_outbox, idle_wait=0.2).run())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client
    relay.cancel()
    await asyncio.gather(relay, return_exceptions=True)
    await producer.stop()
    await db.dispose()


@pytest.fixture
async def tenant(gateway: httpx.AsyncClient, admin_key: str) -> TenantHandle:
    """A fresh tenant (tests isolate themselves by tenant) and its first API key."""
    response = await gateway.post(
        "/v1/tenants",
        json={"name": "Test tenant"},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return TenantHandle(id=UUID(body["id"]), api_key=body["api_key"]["api_key"])
