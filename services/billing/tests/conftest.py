"""Billing in this process: its HTTP app, its worker's consumer, and a way to publish events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from switchboard.billing.app import create_app
from switchboard.billing.config import BillingSettings
from switchboard.billing.models import outbox
from switchboard.billing.worker import usage_consumer
from switchboard.common.db import Database
from switchboard.common.kafka import create_producer
from switchboard.common.outbox import OutboxRelay
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import Topic
from switchboard.devstack.testkit import (
    EventLog,
    NewTenant,
    TenantKey,
    follow_topics,
    in_process,
)

from .helpers import Tenant, wait_until_key_accepted


@pytest.fixture(scope="session")
def billing_app(platform_env: dict[str, str]) -> FastAPI:
    return create_app()


@pytest.fixture(scope="session")
async def billing(billing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Billing's HTTP API, its tenants replica following the broker."""
    async with in_process(billing_app, "billing") as client:
        yield client


@pytest.fixture
async def customer(billing: httpx.AsyncClient, tenant: Tenant) -> Tenant:
    """A fresh tenant whose API key billing already accepts."""
    await wait_until_key_accepted(billing, tenant.headers)
    return tenant


@pytest.fixture(scope="session")
async def billing_db(platform_env: dict[str, str]) -> AsyncIterator[Database]:
    db = Database(PlatformSettings().database_url, pool_size=4, application_name="billing-test")
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
async def billing_worker(billing_db: Database) -> AsyncIterator[None]:
    """The worker's `billing` consumer group and its outbox relay (which publishes the
    entitlements), running as tasks for the whole session."""
    platform = PlatformSettings()
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="billing-test")
    await producer.start()
    tasks = [
        asyncio.create_task(
            usage_consumer(platform, BillingSettings(), billing_db, producer).run()
        ),
        asyncio.create_task(OutboxRelay(billing_db, producer, outbox, idle_wait=0.2).run()),
    ]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await producer.stop()


@pytest.fixture(scope="session")
async def entitlements(platform_env: dict[str, str]) -> AsyncIterator[EventLog]:
    """Everything published on `entitlements` this session."""
    bootstrap = PlatformSettings().kafka_bootstrap_servers
    async with follow_topics(bootstrap, Topic.ENTITLEMENTS, group="billing-test") as log:
        yield log


@pytest.fixture(scope="session")
async def billing_events(platform_env: dict[str, str]) -> AsyncIterator[EventLog]:
    """Everything published on `billing` this session."""
    bootstrap = PlatformSettings().kafka_bootstrap_servers
    async with follow_topics(bootstrap, Topic.BILLING, group="billing-test") as log:
        yield log


@pytest.fixture(scope="session")
async def outbound(platform_env: dict[str, str]) -> AsyncIterator[EventLog]:
    """Everything published on `messages.outbound` this session."""
    bootstrap = PlatformSettings().kafka_bootstrap_servers
    async with follow_topics(bootstrap, Topic.MESSAGES_OUTBOUND, group="billing-test") as log:
        yield log


@pytest.fixture
async def other_customer(billing: httpx.AsyncClient, new_tenant: NewTenant) -> TenantKey:
    """A second fresh tenant, for isolation checks."""
    tenant = await new_tenant()
    await wait_until_key_accepted(billing, tenant.headers)
    return tenant
