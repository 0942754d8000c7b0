"""Compliance in this process: a dispatcher with its gates and an event log (the outbound
consumer, `outbound_requests`, is shared by the gateway's tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from switchboard.common.db import Database
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import Topic
from switchboard.devstack.fake_twilio import FakeTwilio
from switchboard.devstack.testkit import EventLog, Serve, follow_topics
from switchboard.gateway.compliance.gates import ComplianceGate
from switchboard.gateway.outbound.transports import TwilioTransport

from ..helpers import new_dispatcher
from .support import Line, open_line


@pytest.fixture(scope="session")
async def event_log(
    platform_env: dict[str, str], gateway: httpx.AsyncClient
) -> AsyncIterator[EventLog]:
    """What the gateway publishes on `consent` and `messages.inbound`, read by a real consumer."""
    bootstrap = platform_env["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"]
    topics = (Topic.CONSENT, Topic.MESSAGES_INBOUND)
    async with follow_topics(bootstrap, *topics, group="gateway-compliance-test") as log:
        yield log


@pytest.fixture
async def dispatching(
    serve: Serve, platform_env: dict[str, str], fake_twilio: FakeTwilio
) -> AsyncIterator[None]:
    """A dispatcher with the compliance gates, sending to a fake Twilio while the test runs."""
    db = Database(PlatformSettings().database_url, pool_size=4)
    transport = TwilioTransport(await serve(fake_twilio.app()))
    dispatcher = new_dispatcher(
        db,
        transport,
        retry_delay=0.01,
        max_attempts=3,
        gates=(ComplianceGate(db),),
    )
    task = asyncio.create_task(dispatcher.run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await fake_twilio.drain()
    await transport.close()
    await db.dispose()


@pytest.fixture
async def line(gateway: httpx.AsyncClient, tenant: Any) -> Line:
    return await open_line(gateway, tenant)
