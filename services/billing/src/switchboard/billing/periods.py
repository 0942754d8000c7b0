"""The `from`/`to` window of usage queries, read from the query string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from switchboard.common.errors import BadRequest


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open time window `[start, end)`, always in UTC."""

    start: datetime
    end: datetime


def as_utc(moment: datetime) -> datetime:
    """A time without a zone is read as UTC, so a bare date works in a query string."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def billing_period(
    from_: Annotated[
        datetime | None,
        Query(alias="from", description="Start, inclusive; default the start of `to`'s month."),
    ] = None,
    to: Annotated[datetime | None, Query(description="End, exclusive; default now.")] = None,
) -> Period:
    """The requested window; defaults to the calendar month (UTC) so far."""
    end = as_utc(to) if to is not None else datetime.now(UTC)
    start = as_utc(from_) if from_ is not None else month_start(end)
    if start >= end:
        raise BadRequest("`from` must be earlier than `to`.")
    return Period(start, end)
