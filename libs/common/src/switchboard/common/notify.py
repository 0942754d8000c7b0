"""Postgres LISTEN/NOTIFY as a wake-up signal, with polling as the safety net."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from switchboard.common.db import asyncpg_dsn

log = structlog.get_logger(__name__)


def notify_trigger_sql(schema: str, table: str, channel: str) -> list[str]:
    """DDL for a statement trigger that NOTIFYs `channel` when rows are inserted (at commit)."""
    function = f"{schema}.{table}_notify"
    return [
        f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql
            AS $$ BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$""",
        f"""CREATE TRIGGER {table}_notify AFTER INSERT ON {schema}.{table}
            FOR EACH STATEMENT EXECUTE FUNCTION {function}()""",
    ]


class Wakeup:
    """Set by NOTIFY on `channel` (or by `set()` in-process); `wait()` returns on either."""

    def __init__(self, database_url: str, channel: str) -> None:
        self.database_url = database_url
        self.channel = channel
        self._event = asyncio.Event()
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        try:
            self._conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
            await self._conn.add_listener(self.channel, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:
            # Polling still works; the listener is only there to cut latency.
            log.warning("wakeup.listen_failed", channel=self.channel, error=str(exc))

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109 - a poll interval, not a deadline
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=timeout)
        self._event.clear()

    def _on_notify(self, *_: Any) -> None:
        self._event.set()


async def run_passes(
    name: str,
    wakeup: Wakeup,
    work: Callable[[], Awaitable[bool]],
    idle: Callable[[], Awaitable[float]],
    *,
    retry_seconds: float = 1.0,
    **context: str,
) -> None:
    """A background loop of passes: `work` again at once while it finds any; otherwise `idle`
    (housekeeping, returning how long to sleep), then sleep that long or until woken. A failed
    pass is logged (`<name>.pass_failed`, with `context`) and tried again after `retry_seconds`:
    the loop outlives any outage."""
    await wakeup.start()
    try:
        while True:
            try:
                if await work():
                    continue
                pause = await idle()
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any outage
                log.warning(f"{name}.pass_failed", error=str(exc), **context)
                pause = retry_seconds
            await wakeup.wait(pause)
    finally:
        await wakeup.stop()
