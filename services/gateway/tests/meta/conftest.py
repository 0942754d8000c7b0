"""Fixtures for Meta WhatsApp Cloud tests: a fake Graph API, numbers on it, a dispatcher."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from switchboard.common.db import Database
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import AnyEvent, Topic, utcnow
from switchboard.devstack.fake_meta import FakeMeta, MetaNumber
from switchboard.devstack.testkit import EventLog, Serve, follow_topics
from switchboard.gateway.meta.transport import MetaTransport
from switchboard.gateway.outbound.transports import TransportRegistry
from switchboard.gateway.outbound.whatsapp_window import WhatsAppWindow

from ..helpers import new_dispatcher, random_number

# Read when the session's gateway app is made, after every conftest is imported.
VERIFY_TOKEN = "verify-" + secrets.token_hex(8)
os.environ["SWITCHBOARD_GATEWAY_META_VERIFY_TOKEN"] = VERIFY_TOKEN


@dataclass
class Clock:
    """The dispatcher's idea of now: real time, moved forward by `offset`."""

    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


@pytest.fixture
async def fake_meta(gateway: httpx.AsyncClient) -> AsyncIterator[FakeMeta]:
    fake = FakeMeta(callback_client=gateway)
    yield fake
    await fake.drain()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def dispatching(
    serve: Serve, platform_env: dict[str, str], fake_meta: FakeMeta, clock: Clock
) -> AsyncIterator[FakeMeta]:
    """A dispatcher (Meta transport → fake Meta, 24-hour window on `clock`) runs meanwhile."""
    db = Database(PlatformSettings().database_url, pool_size=4)
    transport = MetaTransport(await serve(fake_meta.app()), "v21.0")
    dispatcher = new_dispatcher(
        db,
        TransportRegistry([transport]),
        retry_delay=0.01,
        max_attempts=3,
        gates=(WhatsAppWindow(db, clock=clock),),
    )
    task = asyncio.create_task(dispatcher.run())
    yield fake_meta
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await fake_meta.drain()
    await transport.close()
    await db.dispose()


async def register_meta_number(
    gateway: httpx.AsyncClient, tenant: Any, fake: FakeMeta, *, app_secret: str | None = None
) -> MetaNumber:
    """A WhatsApp number at (fake) Meta, registered to `tenant` through the numbers API."""
    number = fake.add_number(random_number(), app_secret=app_secret)
    response = await gateway.post(
        "/v1/numbers",
        json={
            "address": number.display_phone_number,
            "channel": "whatsapp",
            "provider": "meta",
            "meta": {
                "phone_number_id": number.phone_number_id,
                "waba_id": number.waba_id,
                "access_token": number.access_token,
                "app_secret": number.app_secret,
            },
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    assert number.access_token not in response.text
    assert number.app_secret not in response.text
    return number


@pytest.fixture(scope="session")
async def event_log(platform_env: dict[str, str]) -> AsyncIterator[EventLog]:
    """What the gateway publishes on `messages.inbound` and `messages.status`, as it arrives."""
    bootstrap = platform_env["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"]
    topics = (Topic.MESSAGES_INBOUND, Topic.MESSAGES_STATUS)
    async with follow_topics(bootstrap, *topics, group="gateway-meta-test") as log:
        yield log


async def events_of(
    log: EventLog, topic: Topic, tenant_id: Any, *, until: Callable[[list[AnyEvent]], bool]
) -> list[AnyEvent]:
    """The tenant's events on `topic` once `until` holds, and a moment more: a duplicate would
    arrive right behind the originals."""
    await log.wait(topic, tenant_id, until)
    await asyncio.sleep(0.5)
    return [event for _, event in log.of(topic, tenant_id)]
