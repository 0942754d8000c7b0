"""When a failed delivery is tried again, and when a failing endpoint is given up on."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def _seconds(*values: float) -> tuple[timedelta, ...]:
    return tuple(timedelta(seconds=v) for v in values)


# Svix's schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after a failure.
DEFAULT_SCHEDULE = _seconds(0, 5, 300, 1800, 7200, 18000, 36000, 36000)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    schedule: tuple[timedelta, ...] = DEFAULT_SCHEDULE
    """Delay before each attempt; its length is the number of attempts."""
    jitter: float = 0.1
    """Each delay is spread by up to this fraction, so retries of a burst do not arrive together."""
    disable_after: timedelta = timedelta(days=5)
    """An endpoint failing without a single success for this long is disabled."""
    max_retry_after: timedelta = timedelta(hours=10)
    """The longest `Retry-After` honoured (a larger one is capped)."""

    @property
    def attempts(self) -> int:
        return len(self.schedule)

    def delay_after(self, attempts_made: int, retry_after: timedelta | None = None) -> timedelta:
        """The wait before the next attempt, after `attempts_made` attempts failed."""
        base = self.schedule[attempts_made]
        spread = base * random.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            return max(base + spread, min(retry_after, self.max_retry_after))
        return base + spread
