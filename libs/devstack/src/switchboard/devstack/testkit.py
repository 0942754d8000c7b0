"""Small helpers for tests of every service (importable; the fixtures live in `testing`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from switchboard.contracts import AnyEvent
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
