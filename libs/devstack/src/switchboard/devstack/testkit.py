"""Small helpers for tests of every service (importable; the fixtures live in `testing`)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from uuid import UUID

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from starlette.types import ASGIApp

from switchboard.contracts import AnyEvent, Topic, parse_event
from switchboard.devstack.infra import free_port


@dataclass(frozen=True)
class TenantKey:
    """A tenant made in a test, and the headers that carry its API key."""

    id: UUID
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


NewTenant = Callable[[], Awaitable[TenantKey]]
Publish = Callable[[AnyEvent], Awaitable[None]]


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    """Wait until `check` passes; fail the test when the deadline passes first."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.05)


async def wait_for_key(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> None:
    """Keys reach a service through the `tenants` topic: wait until `path` stops saying 401."""

    async def accepted() -> bool:
        return (await client.get(path, headers=headers)).status_code != 401

    await eventually(accepted)


Serve = Callable[[ASGIApp], Awaitable[str]]
"""The `serve` fixture: `base_url = await serve(app)`."""


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """`app` served over real HTTP on a free 127.0.0.1 port, in this event loop; its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def in_process(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` running in this process, its lifespan (and background tasks) started."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
            yield client


@dataclass
class EventLog:
    """Everything published on some topics since it started following them, as it arrives."""

    records: list[tuple[str, bytes | None, AnyEvent]] = field(default_factory=list)

    async def follow(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for partition in batch.values():
                self.records.extend((r.topic, r.key, parse_event(r.value)) for r in partition)

    def of(self, topic: Topic, tenant_id: UUID) -> list[tuple[bytes | None, AnyEvent]]:
        """One tenant's (key, event) records on `topic`, in arrival order."""
        return [(k, e) for t, k, e in self.records if t == topic.value and e.tenant_id == tenant_id]

    async def wait(
        self, topic: Topic, tenant_id: UUID, until: Callable[[list[AnyEvent]], bool]
    ) -> list[tuple[bytes | None, AnyEvent]]:
        """`of(topic, tenant_id)` once `until(events)` holds for its events."""

        async def arrived() -> bool:
            return until([e for _, e in self.of(topic, tenant_id)])

        await eventually(arrived)
        return self.of(topic, tenant_id)


@asynccontextmanager
async def follow_topics(
    bootstrap_servers: str, *topics: Topic, group: str
) -> AsyncIterator[EventLog]:
    """An `EventLog` of `topics`, read by a real consumer in a group of its own (one per test
    session is best: joining a group takes the broker seconds)."""
    consumer = AIOKafkaConsumer(
        *(t.value for t in topics),
        bootstrap_servers=bootstrap_servers,
        group_id=f"{group}-{secrets.token_hex(6)}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    log = EventLog()
    task = asyncio.create_task(log.follow(consumer))
    try:
        yield log
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.stop()
