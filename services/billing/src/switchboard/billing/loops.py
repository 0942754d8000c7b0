"""Billing's background passes: run one, outlive its failure (logged), pause, again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


async def forever(
    name: str, work: Callable[[], Awaitable[object]], pause: Callable[[], float]
) -> None:
    """`work()` then a sleep of `pause()` seconds, forever; a failed pass is logged as
    `<name>.pass_failed` and the loop goes on."""
    while True:
        try:
            await work()
        except Exception as exc:  # noqa: BLE001 - the loop must outlive any outage
            log.warning(f"{name}.pass_failed", error=str(exc))
        await asyncio.sleep(pause())
