"""The event loop's lag: how late a timer fires while callbacks hog the loop."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY

from switchboard.common.telemetry import watch_event_loop


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_a_callback_that_holds_the_loop_shows_as_lag() -> None:
    count, total = _sample("event_loop_lag_seconds_count"), _sample("event_loop_lag_seconds_sum")
    watching = asyncio.create_task(watch_event_loop(interval=0.005))
    await asyncio.sleep(0.02)
    time.sleep(0.1)  # noqa: ASYNC251 - on purpose: a callback that does not yield
    await asyncio.sleep(0.02)
    watching.cancel()
    # Timers fired (several, not one per 5 ms while the loop was held) and one was 0.1 s late.
    assert _sample("event_loop_lag_seconds_count") - count >= 3
    assert _sample("event_loop_lag_seconds_sum") - total >= 0.09
