"""Process lifecycles: what an HTTP app and a worker start, check and stop."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import Table

from switchboard.common.auth import KeyVerifier, TenantsReplica
from switchboard.common.db import Database
from switchboard.common.http import health_router
from switchboard.common.kafka import create_producer
from switchboard.common.outbox import OutboxRelay
from switchboard.common.settings import PlatformSettings, ServiceSettings
from switchboard.common.telemetry import configure_logging, configure_tracing, watch_event_loop

log = structlog.get_logger(__name__)


def database_check(db: Database) -> Callable[[], Awaitable[None]]:
    return db.ping


def kafka_check(producer: AIOKafkaProducer) -> Callable[[], Awaitable[object]]:
    """Readiness of the broker: metadata can be fetched with the producer's connection."""

    async def check() -> object:
        return await producer.client.fetch_all_metadata()

    return check


def event_check(event: asyncio.Event) -> Callable[[], Awaitable[None]]:
    """Ready once `event` is set (for example a replica that has caught up)."""

    async def check() -> None:
        if not event.is_set():
            raise RuntimeError("not caught up")

    return check


def supervise(name: str, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run a background loop; if it dies, log and stop the process so it is restarted."""
    task = asyncio.create_task(coroutine, name=name)

    def done(t: asyncio.Task[None]) -> None:
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None:
            log.error("runtime.task_died", task=name, error=repr(exc), exc_info=exc)
            signal.raise_signal(signal.SIGTERM)

    task.add_done_callback(done)
    return task


async def cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def serve_worker(
    *,
    port: int,
    loops: dict[str, Coroutine[Any, Any, None]],
    readiness: dict[str, Callable[[], Awaitable[object]]],
) -> None:
    """Run a worker's loops beside a small HTTP server for probes and `/metrics`."""
    app = FastAPI(title="worker", openapi_url=None)
    app.state.readiness = readiness
    app.include_router(health_router())
    server = uvicorn.Server(
        uvicorn.Config(app, host="0.0.0.0", port=port, log_level="warning", access_log=False)  # noqa: S104
    )
    tasks = [supervise(name, coroutine) for name, coroutine in loops.items()]
    try:
        await server.serve()
    finally:
        await cancel_all(tasks)


def replica_lifespan(
    service: str, platform: PlatformSettings, settings: ServiceSettings
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan of an HTTP app that checks API keys against its replica of `tenants`.

    Sets `app.state.settings`, `.db`, `.verifier` and `.readiness` (database, replica caught up).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            platform.database_url,
            pool_size=platform.database_pool_size,
            application_name=f"{service}-http",
        )
        replica = TenantsReplica(platform.kafka_bootstrap_servers, client_id=f"{service}-auth")
        admin_key = platform.admin_key.get_secret_value() if platform.admin_key else None
        app.state.settings = settings
        app.state.db = db
        app.state.verifier = KeyVerifier(replica, admin_key)
        app.state.readiness = {"database": db.ping, "tenants": event_check(replica.caught_up)}
        tasks = [supervise("tenants-replica", replica.run())]
        try:
            yield
        finally:
            await cancel_all(tasks)
            await db.dispose()

    return lifespan


@dataclass(frozen=True)
class Worker:
    """What a worker's loops are built from."""

    platform: PlatformSettings
    db: Database
    producer: AIOKafkaProducer


Loops = dict[str, Coroutine[Any, Any, None]]


async def run_worker(
    service: str,
    settings: ServiceSettings,
    loops: Callable[[Worker], Awaitable[Loops]],
    *,
    outbox: Table | None,
) -> None:
    """A service's worker process: its loops (and its outbox relay) beside probes and metrics."""
    platform = PlatformSettings()
    configure_logging(service, platform)
    configure_tracing(service, platform)
    db = Database(
        platform.database_url,
        pool_size=platform.database_pool_size,
        application_name=f"{service}-worker",
    )
    # The relay's own connection: queued behind a busy consumer's transactions for the shared
    # pool, it would hold back every event they commit (replies came out in bursts of 1 000).
    relay_db = Database(
        platform.database_url, pool_size=1, application_name=f"{service}-outbox-relay"
    )
    producer = create_producer(platform.kafka_bootstrap_servers, client_id=service)
    await producer.start()
    try:
        running = await loops(Worker(platform, db, producer))
        if outbox is not None:
            running["outbox-relay"] = OutboxRelay(relay_db, producer, outbox).run()
        running["event-loop-lag"] = watch_event_loop()
        await serve_worker(
            port=settings.worker_port,
            loops=running,
            readiness={"database": database_check(db), "kafka": kafka_check(producer)},
        )
    finally:
        await producer.stop()
        await relay_db.dispose()
        await db.dispose()
