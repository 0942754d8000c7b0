"""Partner webhook fixtures: a local receiver, the partner consumer and the delivery loop."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable

import pytest
import uvicorn

from switchboard.common.db import Database
from switchboard.common.kafka import create_producer
from switchboard.common.runtime import Worker
from switchboard.common.settings import PlatformSettings
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.crypto import CredentialCipher
from switchboard.gateway.partners.consumer import partner_events_consumer
from switchboard.gateway.partners.schedule import RetryPolicy
from switchboard.gateway.partners.sender import WebhookSender
from switchboard.gateway.partners.targets import TargetPolicy

from .support import FAST_RETRIES, FakeClock, Receiver, Sending

PERMISSIVE = TargetPolicy(allow_private=True, allow_http=True)

# The receiver listens on 127.0.0.1 over http: the test deployment allows both (the default
# refuses them; `test_targets.py` checks that with the settings off).
os.environ["SWITCHBOARD_GATEWAY_WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "true"
os.environ["SWITCHBOARD_GATEWAY_WEBHOOK_ALLOW_HTTP"] = "true"


@pytest.fixture(scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    app = Receiver(port=sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.01)
    yield app
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture(scope="session")
async def partner_consumer(platform_env: dict[str, str]) -> AsyncIterator[None]:
    """The worker's `gateway-partner-webhooks` consumer, running in this process."""
    platform = PlatformSettings()
    db = Database(platform.database_url, pool_size=4)
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="test-partners")
    await producer.start()
    task = asyncio.create_task(partner_events_consumer(Worker(platform, db, producer)).run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await producer.stop()
    await db.dispose()


@pytest.fixture
async def sending(platform_env: dict[str, str]) -> AsyncIterator[Callable[..., Sending]]:
    """Starts delivery loops (fast retries, a movable clock) that stop when the test ends."""
    db = Database(PlatformSettings().database_url, pool_size=4)
    settings = GatewaySettings()  # type: ignore[call-arg]  # credentials key from the environment
    cipher = CredentialCipher(settings.credentials_key.get_secret_value())
    tasks: list[asyncio.Task[None]] = []

    def start(
        policy: TargetPolicy = PERMISSIVE,
        retry: RetryPolicy = FAST_RETRIES,
        **options: object,
    ) -> Sending:
        clock = FakeClock()
        sender = WebhookSender(
            db, cipher, policy=policy, retry=retry, clock=clock, poll_interval=0.05, **options
        )
        tasks.append(asyncio.create_task(sender.run()))
        return Sending(clock)

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await db.dispose()
