"""The loop of the scheduler and the journey runner: passes while there is work, then a sleep
until the next thing is due (or a NOTIFY says something new is), outliving any outage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from switchboard.common.notify import Wakeup

log = structlog.get_logger(__name__)


async def run_passes(
    name: str,
    wakeup: Wakeup,
    work: Callable[[], Awaitable[bool]],
    idle: Callable[[], Awaitable[float]],
    *,
    poll_seconds: float,
) -> None:
    """Run `work` again at once while it finds any; otherwise `idle` (housekeeping, returning
    how long to sleep) and sleep that long, or until woken. A failure is logged and retried
    after `poll_seconds`."""
    await wakeup.start()
    try:
        while True:
            try:
                if await work():
                    continue
                pause = await idle()
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any outage
                log.warning(f"{name}.pass_failed", error=str(exc))
                pause = poll_seconds
            await wakeup.wait(pause)
    finally:
        await wakeup.stop()
