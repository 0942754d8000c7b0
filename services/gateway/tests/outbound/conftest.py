"""Fixtures of the outbound tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from switchboard.common.db import Database
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import Topic
from switchboard.devstack.fake_twilio import FakeTwilio
from switchboard.devstack.testkit import EventLog, Serve, follow_topics
from switchboard.gateway.outbound.transports import TwilioTransport

from ..helpers import new_dispatcher


@pytest.fixture
async def dispatching(
    serve: Serve, platform_env: dict[str, str], fake_twilio: FakeTwilio
) -> AsyncIterator[Callable[[], Coroutine[Any, Any, None]]]:
    """Runs a dispatcher (Twilio transport → fake Twilio) while the test body runs; yields a
    function that waits for the fake's pending status callbacks."""
    db = Database(PlatformSettings().database_url, pool_size=4)
    transport = TwilioTransport(await serve(fake_twilio.app()))
    dispatcher = new_dispatcher(db, transport, retry_delay=0.01, max_attempts=3)
    task = asyncio.create_task(dispatcher.run())
    yield fake_twilio.drain
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await transport.close()
    await db.dispose()


@pytest.fixture(scope="session")
async def status_events(platform_env: dict[str, str]) -> AsyncIterator[EventLog]:
    """What the gateway publishes on `messages.status`, read by a real consumer."""
    bootstrap = platform_env["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"]
    async with follow_topics(
        bootstrap, Topic.MESSAGES_STATUS, group="gateway-outbound-test"
    ) as log:
        yield log
