"""What partners receive: the event types they can subscribe to and the payload of each."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, get_args

PartnerEventType = Literal[
    "message.received",
    "message.status_changed",
    "consent.opted_out",
    "consent.opted_in",
    "campaign.enrollment_started",
    "campaign.enrollment_ended",
    "conversation.handed_over",
    "conversation.handed_back",
    "billing.budget_threshold_reached",
    "endpoint.disabled",
]
PARTNER_EVENT_TYPES: tuple[str, ...] = get_args(PartnerEventType)


def payload(event_type: str, timestamp: datetime, data: dict[str, Any]) -> str:
    """The JSON body of a delivery (`type`, `timestamp`, `data`), exactly as it is signed."""
    body = {"type": event_type, "timestamp": timestamp.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)
