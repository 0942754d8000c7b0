"""Pytest plugin: a real broker and a real PostgreSQL for the whole suite.

Uses `SWITCHBOARD_TEST_KAFKA_BOOTSTRAP_SERVERS` and `SWITCHBOARD_TEST_DATABASE_URL` when set,
otherwise starts Tansu and an embedded PostgreSQL. Every session gets a fresh database with
every service's schema migrated; tests isolate themselves by creating their own tenants.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.types import ASGIApp

from switchboard.common.kafka import ensure_topics
from switchboard.common.migrations import migrate
from switchboard.devstack.infra import Broker, EmbeddedPostgres
from switchboard.devstack.processes import SERVICES
from switchboard.devstack.testkit import Serve, serving

ADMIN_KEY = "sb_admin_test_key_" + secrets.token_hex(8)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("SWITCHBOARD_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        asyncio.run(ensure_topics(configured))
        yield configured
        return
    broker = Broker(log_path=tmp_path_factory.mktemp("broker") / "tansu.log").start()
    try:
        asyncio.run(ensure_topics(broker.bootstrap_servers))
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a server's maintenance database (`postgres`)."""
    configured = os.environ.get("SWITCHBOARD_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    server = EmbeddedPostgres(Path(f"/tmp/sbpg-{os.getpid()}")).start()  # noqa: S108 - short socket path
    try:
        yield server.url()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database for this session with every service's schema migrated, then dropped."""
    name = f"switchboard_test_{secrets.token_hex(4)}"
    asyncio.run(_execute(postgres_server_url, f'CREATE DATABASE "{name}"'))
    url = _with_database(postgres_server_url, name)
    only = os.environ.get("SWITCHBOARD_TEST_SERVICES")  # e.g. "gateway,billing" for focused runs
    for service in only.split(",") if only else SERVICES:
        if importlib.util.find_spec(f"switchboard.{service}.migrations") is not None:
            migrate(f"switchboard.{service}:migrations", url)
    yield url
    asyncio.run(_execute(postgres_server_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def platform_env(database_url: str, kafka_bootstrap: str) -> dict[str, str]:
    """Environment every service reads; also installed in this process for in-process apps."""
    env = {
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SWITCHBOARD_ADMIN_KEY": ADMIN_KEY,
        "SWITCHBOARD_LOG_LEVEL": "WARNING",
        "SWITCHBOARD_GATEWAY_CREDENTIALS_KEY": Fernet.generate_key().decode(),
    }
    os.environ.update(env)
    return {**os.environ, **env}


@pytest.fixture(scope="session")
def admin_key(platform_env: dict[str, str]) -> str:
    return ADMIN_KEY


async def _execute(server_url: str, statement: str) -> None:
    maintenance = _with_database(server_url, "postgres")
    engine = create_async_engine(maintenance, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    from switchboard.common.db import async_url

    return make_url(async_url(url)).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve ASGI apps (fake providers, receivers) over real HTTP on 127.0.0.1 for one test:
    `base_url = await serve(app)`; they stop when the test ends."""
    async with AsyncExitStack() as stack:

        async def start(app: ASGIApp) -> str:
            return await stack.enter_async_context(serving(app))

        yield start
