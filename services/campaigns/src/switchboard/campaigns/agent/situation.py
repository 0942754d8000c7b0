"""What the agent knows of one contact at the moment it decides, read in one go before the model
is called (no database work while the model thinks), and the tools that show it.

The first prompt carries the essentials (the contact, their last few messages, the event, the
rule or step, the local time); the tools give the rest on request: the contact in full, more
messages, the time and the send window, and the contact's schedule (what is planned, what was
sent within the frequency cap's period).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.contacts.service import contact_facts
from switchboard.campaigns.policy.service import Policy
from switchboard.campaigns.schedule.scheduler import opted_out_of, sent_since
from switchboard.campaigns.timing import SendWindow, is_allowed, next_allowed
from switchboard.llm import Tool, ToolCall, ToolResult

RECENT_LIMIT = 30
"""The most messages the agent can read; the first prompt carries `BRIEF_MESSAGES`."""
BRIEF_MESSAGES = 5

_CONTACT = text(
    """
    SELECT display_name, time_zone, attributes, blocked, number_zone, region
    FROM campaigns.contacts WHERE tenant_id = :tenant_id AND address = :address
    LIMIT 1
    """
)

_RECENT = text(
    """
    (SELECT 'from the contact' AS direction, body, received_at AS at
     FROM campaigns.received_messages
     WHERE tenant_id = :tenant_id AND address = :address
     ORDER BY received_at DESC LIMIT :limit)
    UNION ALL
    (SELECT 'to the contact', body, sent_at
     FROM campaigns.scheduled_sends
     WHERE tenant_id = :tenant_id AND to_address = :address AND status = 'sent'
     ORDER BY sent_at DESC LIMIT :limit)
    ORDER BY at DESC LIMIT :limit
    """
)

_PLANNED = text(
    """
    SELECT due_at, status, body FROM campaigns.scheduled_sends
    WHERE tenant_id = :tenant_id AND to_address = :address AND status IN ('scheduled', 'paused')
    ORDER BY due_at LIMIT 10
    """
)


@dataclass(frozen=True, slots=True)
class Situation:
    now: datetime
    zone: ZoneInfo
    window: SendWindow
    contact: dict[str, Any]
    messages: list[dict[str, str]]
    """Newest first."""
    schedule: dict[str, Any]
    event: dict[str, Any]
    source: dict[str, Any]
    """The rule, or the campaign and its step, asking."""
    opted_out: bool = False
    blocked: bool = False

    def local_time(self) -> dict[str, Any]:
        local = self.now.astimezone(self.zone)
        allowed = is_allowed(self.now, self.zone, self.window)
        opens = self.now if allowed else next_allowed(self.now, self.zone, self.window)
        return {
            "now_utc": self.now.isoformat(timespec="seconds"),
            "contact_local_time": local.isoformat(timespec="minutes"),
            "weekday": local.strftime("%A"),
            "time_zone": self.zone.key,
            "within_send_window": allowed,
            "send_window_opens": opens.astimezone(self.zone).isoformat(timespec="minutes"),
        }

    def brief(self) -> str:
        """The first message to the model: everything it most likely needs, as JSON."""
        return json.dumps(
            {
                "asked_by": self.source,
                "event": self.event,
                "contact": self.contact,
                "recent_messages": self.messages[:BRIEF_MESSAGES],
                "time": self.local_time(),
            },
            ensure_ascii=False,
            default=str,
        )


async def situation(
    session: AsyncSession,
    decision: Row[Any],
    policy: Policy,
    now: datetime,
    source: dict[str, Any],
) -> Situation:
    """Read what the agent may know of `decision`'s contact, now."""
    tenant_id: UUID = decision.tenant_id
    address: str = decision.to_address
    where = {"tenant_id": tenant_id, "address": address}
    contact = (await session.execute(_CONTACT, where)).first()
    zone, window = policy.place(address, contact)
    opted_out = bool(await opted_out_of(session, [(tenant_id, address)]))
    recent = await session.execute(_RECENT, {**where, "limit": RECENT_LIMIT})
    messages = [
        {"direction": r.direction, "text": r.body, "at": r.at.isoformat(timespec="minutes")}
        for r in recent
    ]
    planned = [
        {"due": r.due_at.isoformat(timespec="minutes"), "status": r.status, "text": r.body}
        for r in await session.execute(_PLANNED, where)
    ]
    schedule: dict[str, Any] = {"planned": planned, "frequency_cap": None}
    cap = policy.frequency_cap
    if cap is not None:
        sent = await sent_since(session, tenant_id, [address], now - cap.period)
        schedule["frequency_cap"] = {
            "max_messages": cap.max_messages,
            "period_hours": cap.period_hours,
            "sent_in_period": sent.get(address, 0),
        }
    facts = contact_facts(address, contact)
    facts["opted_out"] = opted_out
    return Situation(
        now=now,
        zone=zone,
        window=window,
        contact=facts,
        messages=messages,
        schedule=schedule,
        event=dict(decision.facts),
        source=source,
        opted_out=opted_out,
        blocked=bool(contact is not None and contact.blocked),
    )


_NO_ARGUMENTS: Mapping[str, Any] = {"type": "object", "properties": {}}

TOOLS = (
    Tool("read_contact", "The contact's profile and attributes.", _NO_ARGUMENTS),
    Tool(
        "read_recent_messages",
        "The contact's recent messages with the business, newest first.",
        {
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": RECENT_LIMIT, "default": 10}
            },
        },
    ),
    Tool(
        "current_time",
        "Now, on the contact's clock, and whether the send window (quiet hours) is open.",
        _NO_ARGUMENTS,
    ),
    Tool(
        "read_schedule",
        "Messages already planned for the contact, and their frequency cap with how many "
        "messages were sent in its period.",
        _NO_ARGUMENTS,
    ),
)


def run_tool(known: Situation, call: ToolCall) -> ToolResult:
    """Answer one of `TOOLS` from what is known (an unknown tool is an error the model reads)."""
    arguments = call.arguments if isinstance(call.arguments, Mapping) else {}
    answer: object
    if call.name == "read_contact":
        answer = known.contact
    elif call.name == "read_recent_messages":
        limit = arguments.get("limit", 10)
        limit = limit if isinstance(limit, int) and 1 <= limit <= RECENT_LIMIT else 10
        answer = known.messages[:limit]
    elif call.name == "current_time":
        answer = known.local_time()
    elif call.name == "read_schedule":
        answer = known.schedule
    else:
        names = ", ".join(tool.name for tool in TOOLS)
        return ToolResult(call.id, f"No tool {call.name!r}; the tools are {names}.", True)
    return ToolResult(call.id, json.dumps(answer, ensure_ascii=False, default=str))
