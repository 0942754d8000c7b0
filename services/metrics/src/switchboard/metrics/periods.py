"""The `from`/`to` window of analytics queries, read from the query string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Query

from switchboard.common.errors import BadRequest

DEFAULT_SPAN = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Window:
    """The hours starting in `[start, end)`; `start` is rounded down to its hour, UTC."""

    start: datetime
    end: datetime


def as_utc(moment: datetime) -> datetime:
    """A time without a zone is read as UTC, so a bare date works in a query string."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def analytics_window(
    from_: Annotated[
        datetime | None,
        Query(alias="from", description="Start, rounded down to the hour; default `to` - 24h."),
    ] = None,
    to: Annotated[datetime | None, Query(description="End, exclusive; default now.")] = None,
) -> Window:
    """The requested window; defaults to the last 24 hours."""
    end = as_utc(to) if to is not None else datetime.now(UTC)
    start = as_utc(from_) if from_ is not None else end - DEFAULT_SPAN
    start = start.replace(minute=0, second=0, microsecond=0)
    if start >= end:
        raise BadRequest("`from` must be earlier than `to`.")
    return Window(start, end)
