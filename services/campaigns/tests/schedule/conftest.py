"""The campaigns worker's planning and sending, on a clock the tests set.

The events consumer and the outbox relay run as tasks for the whole session; the scheduler's
passes are run by the tests themselves (`scheduler.send_due()`), at the times they choose.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import text

from switchboard.campaigns.models import outbox
from switchboard.campaigns.schedule.clock import get_clock
from switchboard.campaigns.schedule.scheduler import Scheduler
from switchboard.campaigns.worker import CONSUMER_GROUP, events_consumer
from switchboard.common.db import Database
from switchboard.common.outbox import OutboxRelay
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import (
    AnyEvent,
    ConsentData,
    ConsentOptedIn,
    ConsentOptedOut,
    EntitlementChanged,
    EntitlementData,
    MessageRequestedData,
    Topic,
    UsageRecordedData,
    contact_key,
    parse_event,
    tenant_key,
)


class SetClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def set(self, now: datetime) -> None:
        self.current = now.astimezone(UTC)

    def advance(self, by: timedelta) -> None:
        self.current += by


class Outbound:
    """Every `message.requested` on `messages.outbound`, by tenant, as the gateway reads them,
    every event on `campaigns`, and every `usage.recorded` on `usage`."""

    def __init__(self) -> None:
        self.by_tenant: dict[UUID, list[MessageRequestedData]] = defaultdict(list)
        self.campaign_events: dict[UUID, list[tuple[bytes | None, AnyEvent]]] = defaultdict(list)
        self.usage: dict[UUID, list[UsageRecordedData]] = defaultdict(list)

    def to(self, tenant_id: UUID) -> list[MessageRequestedData]:
        return self.by_tenant[tenant_id]


@pytest.fixture(scope="session")
def clock() -> SetClock:
    return SetClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
async def schedule_db(platform_env: dict[str, str]) -> AsyncIterator[Database]:
    db = Database(PlatformSettings().database_url, pool_size=4)
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
async def planning(
    schedule_db: Database, producer: AIOKafkaProducer, clock: SetClock
) -> AsyncIterator[None]:
    """The worker's events consumer (planning sends on `clock`) and its outbox relay."""
    bootstrap = PlatformSettings().kafka_bootstrap_servers
    tasks = [
        asyncio.create_task(events_consumer(schedule_db, producer, bootstrap, clock).run()),
        asyncio.create_task(OutboxRelay(schedule_db, producer, outbox, idle_wait=0.2).run()),
    ]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture(scope="session")
async def outbound(platform_env: dict[str, str]) -> AsyncIterator[Outbound]:
    """Reads `messages.outbound` from its end for the whole session."""
    consumer = AIOKafkaConsumer(
        Topic.MESSAGES_OUTBOUND.value,
        Topic.CAMPAIGNS.value,
        Topic.USAGE.value,
        bootstrap_servers=PlatformSettings().kafka_bootstrap_servers,
        group_id=f"campaigns-test-outbound-{secrets.token_hex(4)}",
        auto_offset_reset="latest",
    )
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    seen = Outbound()

    async def read() -> None:
        async for record in consumer:
            event = parse_event(record.value)
            if event.type == "message.requested":
                seen.by_tenant[event.tenant_id].append(event.data)
            elif event.type == "usage.recorded":
                seen.usage[event.tenant_id].append(event.data)
            elif record.topic == Topic.CAMPAIGNS.value:
                seen.campaign_events[event.tenant_id].append((record.key, event))

    task = asyncio.create_task(read())
    yield seen
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await consumer.stop()


@pytest.fixture(autouse=True)
def api_on_the_clock(campaigns_app: FastAPI, clock: SetClock) -> Iterator[None]:
    """The API enrolls contacts at the tests' time too."""
    campaigns_app.dependency_overrides[get_clock] = lambda: clock
    yield
    campaigns_app.dependency_overrides.pop(get_clock, None)


@pytest.fixture
def scheduler(schedule_db: Database, clock: SetClock) -> Scheduler:
    return Scheduler(schedule_db, clock)


async def eventually(
    check: Callable[[], Awaitable[Any]], *, within: float = 15.0, message: str = ""
) -> Any:
    """`check()`'s first truthy result; fails the test if the deadline passes first."""
    deadline = time.monotonic() + within
    while not (result := await check()):
        assert time.monotonic() < deadline, message or "condition not met before the deadline"
        await asyncio.sleep(0.05)
    return result


async def sends(
    campaigns: httpx.AsyncClient, headers: dict[str, str], **filters: Any
) -> list[dict[str, Any]]:
    params = {k: str(v) for k, v in filters.items()}
    response = await campaigns.get("/v1/scheduled-sends", params=params, headers=headers)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


async def consent_is(db: Database, tenant_id: UUID, address: str, opted_out: bool) -> bool:
    """Whether campaigns holds the contact's latest word as `opted_out` (read from its table:
    campaigns has no API for it)."""
    async with db.reads() as session:
        stored = await session.scalar(
            text(
                "SELECT opted_out FROM campaigns.opt_outs "
                "WHERE tenant_id = :tenant_id AND address = :address"
            ),
            {"tenant_id": tenant_id, "address": address},
        )
    return stored is opted_out


async def at_least(items: list[Any], count: int) -> list[Any] | None:
    """`items` once there are `count` of them (for `eventually`)."""
    return items if len(items) >= count else None


def random_number() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


class Tenant(Protocol):
    """A tenant from the fixtures: its id and the headers carrying its API key."""

    id: UUID

    @property
    def headers(self) -> dict[str, str]: ...


async def publish_consent(
    producer: AIOKafkaProducer,
    tenant_id: UUID,
    address: str,
    kind: type[ConsentOptedOut] | type[ConsentOptedIn],
    keyword: str,
) -> None:
    """A contact's STOP or START, as the gateway publishes it on `consent`."""
    data = ConsentData(address=address, channel="sms", source="keyword", keyword=keyword)
    event = kind.create(tenant_id, data)
    await producer.send_and_wait(
        Topic.CONSENT.value, event.model_dump_json().encode(), key=contact_key(tenant_id, address)
    )


async def publish_entitlement(
    producer: AIOKafkaProducer,
    tenant_id: UUID,
    *,
    state: Literal["active", "grace", "suspended"] = "active",
    messages: int | None = None,
    address: str | None = None,
    occurred_at: datetime | None = None,
) -> EntitlementChanged:
    """Billing's word on the tenant (or, with `address`, one of its contacts), as billing
    publishes it on `entitlements`: `messages` left on the plan (None: no such counter)."""
    data = EntitlementData(
        plan="starter",
        state=state,
        contact_address=address,
        limits={"messages": 1000},
        remaining={} if messages is None else {"messages": messages},
    )
    envelope = {} if occurred_at is None else {"occurred_at": occurred_at}
    event = EntitlementChanged.create(tenant_id, data, **envelope)
    key = tenant_key(tenant_id) if address is None else contact_key(tenant_id, address)
    await producer.send_and_wait(
        Topic.ENTITLEMENTS.value, event.model_dump_json().encode(), key=key
    )
    return event


async def entitlement_is(db: Database, event: EntitlementChanged) -> bool:
    """Whether campaigns holds `event` as the latest word for its tenant (or contact), read
    from its replica (campaigns has no API for it)."""
    async with db.reads() as session:
        stored = await session.scalar(
            text(
                "SELECT event_time FROM campaigns.entitlements "
                "WHERE tenant_id = :tenant_id AND contact_address = :address"
            ),
            {"tenant_id": event.tenant_id, "address": event.data.contact_address or ""},
        )
    return stored == event.occurred_at


async def taken(db: Database, event: AnyEvent) -> bool:
    """Whether the worker's `campaigns` consumer has taken `event`, whatever it made of it."""
    async with db.reads() as session:
        found = await session.scalar(
            text(
                "SELECT 1 FROM campaigns.inbox WHERE consumer = :consumer AND event_id = :event_id"
            ),
            {"consumer": CONSUMER_GROUP, "event_id": event.event_id},
        )
    return found is not None
