"""What time it is, for everything that schedules: a clock tests can set."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
