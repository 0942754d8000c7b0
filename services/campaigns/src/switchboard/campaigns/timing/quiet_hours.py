"""When proactive sends may reach a contact: a window of hours per weekday on their local clock.

Windows are read on the wall clock, the time the contact sees. So on a spring-forward day a
window opening inside the skipped hour opens at the jump, and on a fall-back day a window
holding the repeated hour allows it both times the clock shows it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""The weekdays in `date.weekday()` order."""

_HHMM_PATTERN = "^([01][0-9]|2[0-3]):[0-5][0-9]$"
_HHMM = re.compile(_HHMM_PATTERN)
# A week finds any open day; a second week covers an open day whose window fell in a DST gap.
_SEARCH_DAYS = 15


class ClosedWindowError(ValueError):
    """A send window that allows no sends on any day of the week."""


def _clock_time(value: object) -> time:
    if isinstance(value, str) and _HHMM.fullmatch(value):
        return time.fromisoformat(value)
    if isinstance(value, time) and value == time(value.hour, value.minute):  # naive, whole minute
        return value
    raise ValueError("a time of day is written HH:MM, from 00:00 to 23:59")


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


ClockTime = Annotated[
    time,
    BeforeValidator(_clock_time),
    PlainSerializer(_hhmm, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _HHMM_PATTERN}),
]
"""A whole minute of the day on a local clock, written HH:MM."""


class DailyWindow(BaseModel):
    """Sends are allowed from `start` up to, not including, `end`, on the contact's clock."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: ClockTime = Field(examples=["08:00"])
    end: ClockTime = Field(examples=["21:00"])

    @model_validator(mode="after")
    def _starts_before_end(self) -> Self:
        if self.start >= self.end:
            raise ValueError("a window starts before it ends, and does not cross midnight")
        return self

    def contains(self, moment: time) -> bool:
        """True when `moment` falls in the window."""
        return self.start <= moment < self.end

    def intersect(self, other: DailyWindow) -> DailyWindow | None:
        """The hours both windows allow, or None when they share none."""
        start, end = max(self.start, other.start), min(self.end, other.end)
        return DailyWindow(start=start, end=end) if start < end else None


class SendWindow(BaseModel):
    """When sends may reach a contact: `daily` on every day but those `weekdays` sets, where
    `null` means no sends that day. The default allows 08:00 to 21:00 every day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily: DailyWindow | None = DailyWindow(start=time(8), end=time(21))
    weekdays: dict[Weekday, DailyWindow | None] = Field(
        default_factory=dict,
        examples=[{"sat": {"start": "10:00", "end": "18:00"}, "sun": None}],
    )

    @model_validator(mode="after")
    def _opens_some_day(self) -> Self:
        if all(self.on(day) is None for day in WEEKDAYS):
            raise ClosedWindowError("a send window must allow sends on at least one day")
        return self

    def on(self, day: Weekday) -> DailyWindow | None:
        """The window on `day`, or None when that day allows no sends."""
        return self.weekdays.get(day, self.daily)

    def intersect(self, other: SendWindow) -> SendWindow:
        """The window both allow (a platform's, a tenant's, a region's), day by day; raises
        ClosedWindowError when they share no hour on any day."""
        daily = _both(self.daily, other.daily)
        days = {day: _both(self.on(day), other.on(day)) for day in WEEKDAYS}
        if all(window is None for window in days.values()):
            raise ClosedWindowError("these send windows share no hour on any day")
        return SendWindow(
            daily=daily, weekdays={day: hours for day, hours in days.items() if hours != daily}
        )


def is_allowed(at: datetime, zone: ZoneInfo, window: SendWindow) -> bool:
    """True when the contact's clock in `zone` shows a time `window` allows at `at`."""
    local = _aware(at).astimezone(zone)
    daily = window.on(WEEKDAYS[local.weekday()])
    return daily is not None and daily.contains(local.time())


def next_allowed(at: datetime, zone: ZoneInfo, window: SendWindow) -> datetime:
    """The earliest instant, `at` or later, that `window` allows on the clock in `zone` (`at`
    itself when inside), in UTC: a send outside the window is held until it opens."""
    cursor = _aware(at).astimezone(UTC)
    limit = cursor + timedelta(days=_SEARCH_DAYS)
    while cursor < limit:
        stretch_end = _steady_until(cursor, zone)
        opening = _first_allowed(cursor, stretch_end, _offset(cursor, zone), window)
        if opening is not None:
            return opening
        cursor = stretch_end
    raise ClosedWindowError(f"the send window does not open within {_SEARCH_DAYS} days")


def next_local_time(
    at: datetime,
    zone: ZoneInfo,
    time_of_day: time,
    *,
    weekdays: Collection[Weekday] | None = None,
) -> datetime:
    """The first instant from `at` on (`at` itself included) when the clock in `zone` reaches
    `time_of_day` on one of `weekdays` (any day by default), in UTC.

    A time that occurs twice on a fall-back day counts once, at its first occurrence; a time
    skipped on a spring-forward day is reached at the jump.
    """
    if time_of_day.tzinfo is not None:
        raise ValueError("time_of_day is a time on the contact's clock, without a time zone")
    days = set(WEEKDAYS if weekdays is None else weekdays)
    if not days:
        raise ValueError("weekdays must name at least one day")
    start = _aware(at).astimezone(UTC)
    first_day = start.astimezone(zone).date()
    # Over eight days from today, each weekday comes round at least once after today.
    walls = (datetime.combine(first_day + timedelta(days=n), time_of_day) for n in range(8))
    moments = (_clock_reaches(wall, zone) for wall in walls if WEEKDAYS[wall.weekday()] in days)
    return min(moment for moment in moments if moment >= start)


def _aware(at: datetime) -> datetime:
    if at.utcoffset() is None:
        raise ValueError("a naive datetime is ambiguous: give its time zone")
    return at


def _both(first: DailyWindow | None, second: DailyWindow | None) -> DailyWindow | None:
    return first.intersect(second) if first is not None and second is not None else None


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)


def _first_allowed(
    start: datetime, end: datetime, offset: timedelta, window: SendWindow
) -> datetime | None:
    """The first instant in [start, end) that the window allows, the clock reading UTC + `offset`
    throughout."""
    wall_start = (start + offset).replace(tzinfo=None)
    wall_end = (end + offset).replace(tzinfo=None)
    for day in _dates(wall_start.date(), wall_end.date()):
        daily = window.on(WEEKDAYS[day.weekday()])
        if daily is None:
            continue
        opens = max(wall_start, datetime.combine(day, daily.start))
        closes = min(wall_end, datetime.combine(day, daily.end))
        if opens < closes:
            return (opens - offset).replace(tzinfo=UTC)
    return None


def _dates(first: date, last: date) -> Iterator[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


def _steady_until(start: datetime, zone: ZoneInfo) -> datetime:
    """The end of a stretch from `start`, at most a day long, over which `zone` keeps one UTC
    offset."""
    # Zones change offset at most once a day, so comparing the ends of a day finds any change.
    day_later = start + timedelta(days=1)
    if _offset(day_later, zone) == _offset(start, zone):
        return day_later
    return _offset_change(start, day_later, zone)


def _offset_change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant `zone` changes UTC offset, between `before` and `after` (which differ)."""
    # Changes fall on whole seconds, so bisecting over whole seconds finds one exactly.
    low, high = math.floor(before.timestamp()), math.floor(after.timestamp())
    offset = _offset(before, zone)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(datetime.fromtimestamp(middle, UTC), zone) == offset:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _clock_reaches(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant the clock in `zone` reads `wall` or later, in UTC."""
    # fold=0 gives the first of two readings of a repeated time; for a time a spring-forward gap
    # skips, it gives an instant after the jump, which does not read `wall`: the jump is wanted.
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    return _offset_change(first - timedelta(days=1), first, zone)


def hold(requested: datetime, zone: ZoneInfo, window: SendWindow) -> tuple[datetime, str | None]:
    """When a send requested for `requested` may go, and, if that is later, why: the reason a
    send held for quiet hours shows ("quiet hours: held until Mon 08:00 America/New_York")."""
    due = next_allowed(requested, zone, window)
    if due <= requested:
        return due, None
    local = due.astimezone(zone).strftime("%a %H:%M")
    return due, f"quiet hours: held until {local} {zone}"
