"""What each event counts: the increments it adds to the hourly rollups.

Events are bucketed by the hour they occurred in (UTC), not the hour they were processed, so a
redelivery or a replay lands in the same bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal, get_args
from uuid import UUID

from switchboard.contracts import (
    ConsentOptedOut,
    Event,
    MessageReceived,
    MessageStatusChanged,
    UsageRecorded,
)

Metric = Literal[
    "messages_in",
    "messages_out",
    "messages_delivered",
    "messages_failed",
    "opt_outs",
    "llm_tokens",
    "usage_cost_micros",
    "contacts_new",
]
METRICS: Final[tuple[Metric, ...]] = get_args(Metric)
NO_DIMENSION: Final = ""
FAILED_STATUSES: Final = frozenset({"failed", "undelivered", "refused"})


@dataclass(frozen=True, slots=True)
class Increment:
    tenant_id: UUID
    hour: datetime
    metric: Metric
    dimension: str
    value: int

    @classmethod
    def of(cls, event: Event, metric: Metric, dimension: str, value: int = 1) -> Increment:
        return cls(event.tenant_id, hour_of(event.occurred_at), metric, dimension, value)


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour `moment` falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def micros(amount: Decimal) -> int:
    """An amount in millionths, so costs add up as integers."""
    return int((amount * 1_000_000).to_integral_value(ROUND_HALF_UP))


def increments_for(event: Event) -> list[Increment]:
    """What `event` adds to the rollups; empty for events that count nothing."""
    match event:
        case MessageReceived(data=data):
            return [Increment.of(event, "messages_in", data.channel)]
        case MessageStatusChanged(data=data) if data.status == "sent":
            return [Increment.of(event, "messages_out", data.origin)]
        case MessageStatusChanged(data=data) if data.status == "delivered":
            return [Increment.of(event, "messages_delivered", data.channel)]
        case MessageStatusChanged(data=data) if data.status in FAILED_STATUSES:
            return [Increment.of(event, "messages_failed", data.status)]
        case ConsentOptedOut(data=data):
            return [Increment.of(event, "opt_outs", data.channel)]
        case UsageRecorded():
            return _usage(event)
    return []


def _usage(event: UsageRecorded) -> list[Increment]:
    data = event.data
    increments = [Increment.of(event, "usage_cost_micros", data.kind, micros(data.cost))]
    if data.kind == "llm_tokens":
        increments.append(Increment.of(event, "llm_tokens", data.model or "unknown", data.quantity))
    return increments
