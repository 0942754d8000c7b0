"""Fixtures for the conversation service: its HTTP app and worker in this process, on the real
broker and database, plus helpers to publish events and read back what the service published."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from switchboard.common.db import Database
from switchboard.common.kafka import create_producer
from switchboard.common.runtime import cancel_all
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import (
    AnyEvent,
    Channel,
    MessageReceived,
    MessageReceivedData,
    MessageStatusChanged,
    Topic,
    contact_key,
    new_event_id,
    partition_key,
    topic_of,
    utcnow,
)
from switchboard.conversation.app import create_app
from switchboard.conversation.config import ConversationSettings
from switchboard.conversation.worker import worker_loops
from switchboard.devstack.fake_llm import FakeAnthropic, FakeOpenAI
from switchboard.devstack.testkit import EventLog, follow_topics, in_process, serving
from switchboard.llm import ModelPrice, ProviderConfig

HERE = Path(__file__).parent
DEADLINE = 15.0
TENANT_NUMBER = "+15550000001"

Publish = Callable[[AnyEvent], Awaitable[None]]
ReadEvents = Callable[..., Awaitable[list[AnyEvent]]]
ReadRecords = Callable[..., Awaitable[list[tuple[bytes | None, AnyEvent]]]]


def random_number() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


def message_received(
    tenant_id: UUID,
    body: str,
    *,
    from_address: str | None = None,
    to_address: str = TENANT_NUMBER,
    channel: Channel = "sms",
) -> MessageReceived:
    """A contact's SMS to the tenant's number, as the gateway publishes it."""
    return MessageReceived.create(
        tenant_id,
        MessageReceivedData(
            message_id=new_event_id(),
            channel=channel,
            provider="sandbox",
            provider_message_id="SM" + secrets.token_hex(16),
            from_address=from_address or random_number(),
            to_address=to_address,
            body=body,
            received_at=utcnow(),
        ),
    )


async def eventually(check: Callable[[], Awaitable[Any]], within: float = DEADLINE) -> Any:
    """Poll `check` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: last result {result!r}")
        await asyncio.sleep(0.1)


@pytest.fixture
def make_message() -> Callable[..., MessageReceived]:
    """Build a `message.received` event: `make_message(tenant_id, body, from_address=...)`."""
    return message_received


@pytest.fixture
def poll() -> Callable[..., Awaitable[Any]]:
    """`await poll(check)`: wait (up to a deadline) until the async `check()` is truthy."""
    return eventually


@pytest.fixture(scope="session")
async def conversation_api(platform_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The conversation HTTP app in this process, its tenants replica following the broker,
    configured like the in-process worker (so routes may name its providers)."""
    app = create_app(worker_settings())
    async with in_process(app, "conversation") as client:
        yield client


@dataclass
class FakeModels:
    """The fake Anthropic and OpenAI servers the in-process worker can reach by route: `claude`
    and `gpt` (the platform routes every purpose to `offline`; a tenant picks the fakes with its
    own routes). Tests that change a fake's reply or failures put them back when they finish."""

    anthropic: FakeAnthropic
    openai: FakeOpenAI
    anthropic_url: str = ""
    openai_url: str = ""

    def chain(self) -> list[ProviderConfig]:
        return [
            ProviderConfig(
                provider="anthropic",
                model="claude-test",
                name="claude",
                api_key=SecretStr(self.anthropic.api_key),
                base_url=self.anthropic_url,
                timeout_seconds=5,
            ),
            ProviderConfig(
                provider="openai",
                model="gpt-test",
                name="gpt",
                api_key=SecretStr(self.openai.api_key),
                base_url=self.openai_url + "/v1",
                timeout_seconds=5,
            ),
            ProviderConfig(provider="offline"),
        ]

    def reset(self) -> None:
        for fake in (self.anthropic, self.openai):
            fake.reply = DEFAULT_REPLY
            fake.delay = 0.0
            fake.fail_with.clear()
            fake.requests.clear()
        self.openai.moderation_triggers.clear()


DEFAULT_REPLY = "Hello from the fake model."
_fakes = FakeModels(FakeAnthropic(api_key="sk-ant-test"), FakeOpenAI(api_key="sk-test"))
_fake_servers = AsyncExitStack()


def worker_settings() -> ConversationSettings:
    """The worker's settings: every fake on the chain, every purpose on `offline` by default,
    no waiting between retries, a summary once a few long messages add up."""
    price = ModelPrice(input_per_million=Decimal(3), output_per_million=Decimal(15))
    return ConversationSettings(
        llm_chain=_fakes.chain(),
        llm_routes={"chat": ["offline"], "summary": ["offline"]},
        llm_prices={
            "claude-test": price,
            "gpt-test": price,
            "offline": ModelPrice(input_per_million=Decimal(0), output_per_million=Decimal(0)),
        },
        llm_backoff_seconds=0,
        memory_token_budget=400,
        # Tests change a tenant's settings and text at once; the cache has tests of its own.
        tenant_cache_seconds=0,
        # Tests fail the fakes on purpose; one test's failures must not open another's circuit.
        llm_breaker_failures=1000,
    )


@pytest.fixture
async def fake_models() -> AsyncIterator[FakeModels]:
    """The fakes behind the worker's `claude` and `gpt` providers, reset after the test."""
    yield _fakes
    _fakes.reset()


class InProcessWorker:
    """The worker's consumer and outbox relay as tasks in this process.

    It is a member of the real `conversation` consumer group, so it leaves as soon as this
    directory's tests are done: cross-service tests run their own worker processes in that group.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stack = AsyncExitStack()

    @property
    def running(self) -> bool:
        return self.loop is not None

    async def start(self) -> None:
        if not _fakes.anthropic_url:
            _fakes.anthropic_url = await _fake_servers.enter_async_context(
                serving(_fakes.anthropic.app())
            )
            _fakes.openai_url = await _fake_servers.enter_async_context(
                serving(_fakes.openai.app())
            )
        platform = PlatformSettings()
        db = Database(platform.database_url, pool_size=4, application_name="conversation-test")
        producer = create_producer(platform.kafka_bootstrap_servers, client_id="conversation-test")
        await producer.start()
        self._stack.push_async_callback(db.dispose)
        self._stack.push_async_callback(producer.stop)
        loops = worker_loops(platform, worker_settings(), db, producer)
        tasks = [asyncio.create_task(loop, name=name) for name, loop in loops.items()]
        self._stack.push_async_callback(cancel_all, tasks)
        self.loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        await self._stack.aclose()
        self._stack = AsyncExitStack()
        self.loop = None


_worker = InProcessWorker()


@pytest.fixture
async def conversation_worker(platform_env: dict[str, str]) -> None:
    """The conversation worker, running (started once, shared by this directory's tests)."""
    if not _worker.running:
        await _worker.start()


@pytest.fixture(scope="session", autouse=True)
async def _stop_worker_at_the_end() -> AsyncIterator[None]:
    yield
    if _worker.running:
        await _worker.stop()
    await _fake_servers.aclose()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the in-process worker once the next test is not one of this directory's."""
    if _worker.loop is None or (nextitem is not None and HERE in nextitem.path.parents):
        return
    _worker.loop.run_until_complete(_worker.stop())


@pytest.fixture(scope="session")
async def producer(platform_env: dict[str, str]) -> AsyncIterator[AIOKafkaProducer]:
    producer = create_producer(
        platform_env["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"], client_id="conversation-test-events"
    )
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
def publish(producer: AIOKafkaProducer) -> Publish:
    """Publish an event as its producer would: on its topic, keyed by tenant and contact."""

    async def send(event: AnyEvent) -> None:
        if isinstance(event, MessageReceived):
            key = contact_key(event.tenant_id, event.data.from_address)
        elif isinstance(event, MessageStatusChanged):
            key = contact_key(event.tenant_id, event.data.to_address)
        else:
            key = partition_key(event)
        await producer.send_and_wait(
            topic_of(event).value, value=event.model_dump_json().encode(), key=key
        )

    return send


@pytest.fixture(scope="session")
async def event_log(platform_env: dict[str, str]) -> AsyncIterator[EventLog]:
    """What this service publishes, read back by a real consumer in a group of its own.

    One consumer for the session: joining a new group takes the broker seconds.
    """
    bootstrap = platform_env["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"]
    topics = (Topic.MESSAGES_OUTBOUND, Topic.USAGE, Topic.CONTACTS, Topic.CONVERSATIONS)
    async with follow_topics(bootstrap, *topics, group="conversation-test") as log:
        yield log


@pytest.fixture
def read_records(event_log: EventLog) -> ReadRecords:
    """One tenant's (key, event) records on a topic, once `until(events)` holds for them."""

    async def read(
        topic: Topic,
        tenant_id: UUID,
        until: Callable[[list[AnyEvent]], bool],
        within: float = DEADLINE,
    ) -> list[tuple[bytes | None, AnyEvent]]:
        async def arrived() -> list[tuple[bytes | None, AnyEvent]] | None:
            records = event_log.of(topic, tenant_id)
            return records if until([event for _, event in records]) else None

        result: list[tuple[bytes | None, AnyEvent]] = await eventually(arrived, within)
        return result

    return read


@pytest.fixture
def read_events(read_records: ReadRecords) -> ReadEvents:
    """`read_records` without the keys."""

    async def read(*args: Any, **kwargs: Any) -> list[AnyEvent]:
        return [event for _, event in await read_records(*args, **kwargs)]

    return read


@pytest.fixture
def accepted(conversation_api: httpx.AsyncClient) -> Callable[[dict[str, str]], Awaitable[None]]:
    """Wait until this service's tenants replica knows a freshly issued key."""

    async def wait(headers: dict[str, str]) -> None:
        async def ok() -> bool:
            response = await conversation_api.get("/v1/contacts", headers=headers)
            return response.status_code == 200

        await eventually(ok)

    return wait


@pytest.fixture
def converse(
    conversation_api: httpx.AsyncClient,
    conversation_worker: None,
    publish: Publish,
    accepted: Callable[[dict[str, str]], Awaitable[None]],
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Have a contact text the tenant and wait until the reply is in the transcript."""

    async def exchange(
        tenant: Any, body: str, *, from_address: str | None = None
    ) -> dict[str, Any]:
        await accepted(tenant.headers)
        event = message_received(tenant.id, body, from_address=from_address)
        await publish(event)

        async def answered() -> dict[str, Any] | None:
            return await transcript_with(conversation_api, tenant.headers, event)

        result: dict[str, Any] = await eventually(answered)
        return result

    return exchange


async def transcript_with(
    api: httpx.AsyncClient, headers: dict[str, str], event: MessageReceived
) -> dict[str, Any] | None:
    """The conversation holding `event`'s message and its reply, if it is there yet."""
    contacts = await api.get(
        "/v1/contacts", params={"address": event.data.from_address}, headers=headers
    )
    for contact in contacts.json():
        listed = await api.get(
            "/v1/conversations", params={"contact_id": contact["id"]}, headers=headers
        )
        for conversation in listed.json():
            detail = await api.get(f"/v1/conversations/{conversation['id']}", headers=headers)
            body = detail.json()
            keys = {t["idempotency_key"] for t in body["turns"]}
            if f"reply:{event.data.message_id}" in keys:
                return dict(body)
    return None


KeyWith = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def key_with(gateway: httpx.AsyncClient, accepted: Callable[..., Awaitable[None]]) -> KeyWith:
    """`await key_with(tenant, "messages:read")`: headers of a new key of the tenant with only
    those scopes, once this service's tenants replica knows it."""

    async def issue(tenant: Any, *scopes: str) -> dict[str, str]:
        issued = await gateway.post(
            f"/v1/tenants/{tenant.id}/api-keys",
            json={"name": "scoped", "scopes": list(scopes)},
            headers=tenant.headers,
        )
        assert issued.status_code == 201, issued.text
        headers = {"Authorization": f"Bearer {issued.json()['api_key']}"}
        await accepted(headers)
        return headers

    return issue
