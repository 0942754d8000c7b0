"""Fixtures of the gateway's tests (the platform's own are in the repository's conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import EventConsumer, create_producer
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import MessageRequested, Topic
from switchboard.devstack.fake_twilio import FakeTwilio
from switchboard.gateway.models import inbox
from switchboard.gateway.worker import on_message_requested


@pytest.fixture
async def fake_twilio(gateway: httpx.AsyncClient) -> AsyncIterator[FakeTwilio]:
    """A fake Twilio whose status callbacks reach the in-process gateway."""
    fake = FakeTwilio(callback_client=gateway)
    yield fake
    await fake.drain()


@pytest.fixture(scope="session")
async def outbound_requests(platform_env: dict[str, str]) -> AsyncIterator[None]:
    """The gateway worker's handler of `messages.outbound`, so published requests get queued
    (one consumer for the session: a second in its group would take half the partitions)."""
    platform = PlatformSettings()
    db = Database(platform.database_url, pool_size=2)
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="gateway-test")
    await producer.start()
    consumer = EventConsumer(
        name="gateway-dispatcher",
        topics=(Topic.MESSAGES_OUTBOUND,),
        bootstrap_servers=platform.kafka_bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
    )
    consumer.on(MessageRequested, on_message_requested)
    task = asyncio.create_task(consumer.run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await producer.stop()
    await db.dispose()
