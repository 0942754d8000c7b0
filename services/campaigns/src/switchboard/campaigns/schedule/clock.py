"""What time it is, for everything that schedules: a clock tests can set."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Protocol

from fastapi import Depends


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def get_clock() -> Clock:
    """The API's clock: when enrollments start and end, decisions are reviewed (tests may
    override it)."""
    return SystemClock()


CurrentClock = Annotated[Clock, Depends(get_clock)]
