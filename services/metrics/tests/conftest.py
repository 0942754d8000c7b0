"""Metrics in this process: its HTTP app, its worker's consumer, and a way to publish events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from switchboard.common.db import Database
from switchboard.common.kafka import create_producer
from switchboard.common.settings import PlatformSettings
from switchboard.devstack.testkit import NewTenant, TenantKey, in_process
from switchboard.metrics.app import create_app
from switchboard.metrics.worker import rollup_consumer

from .helpers import Tenant, wait_until_key_accepted


@pytest.fixture(scope="session")
async def metrics(platform_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """Metrics' HTTP API, its tenants replica following the broker."""
    app = create_app()
    async with in_process(app, "metrics") as client:
        yield client


@pytest.fixture
async def customer(metrics: httpx.AsyncClient, tenant: Tenant) -> Tenant:
    """A fresh tenant whose API key metrics already accepts."""
    await wait_until_key_accepted(metrics, tenant.headers)
    return tenant


@pytest.fixture
async def other_customer(metrics: httpx.AsyncClient, new_tenant: NewTenant) -> TenantKey:
    """A second fresh tenant, for isolation checks."""
    tenant = await new_tenant()
    await wait_until_key_accepted(metrics, tenant.headers)
    return tenant


@pytest.fixture(scope="session")
async def metrics_worker(platform_env: dict[str, str]) -> AsyncIterator[None]:
    """The worker's `metrics` consumer group, running as a task for the whole session."""
    platform = PlatformSettings()
    db = Database(platform.database_url, pool_size=4, application_name="metrics-test-worker")
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="metrics-test")
    await producer.start()
    task = asyncio.create_task(rollup_consumer(platform, db, producer).run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await producer.stop()
    await db.dispose()
