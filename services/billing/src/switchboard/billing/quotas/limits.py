"""What a plan leaves a subscriber, from what they used: pure, no I/O.

Periods are UTC calendar days and months. The counters other services read from an
entitlement's `remaining`:

- `messages`: messages left today and this month, whichever is fewer (a campaign send or an AI
  reply each use one); a plan with an overage price does not stop at its monthly allowance
  (what goes beyond is billed), only at a daily limit if it has one;
- `ai_replies`: the same number (an AI reply is a message to the end user), named for the
  assistant;
- `llm_tokens`: tokens left this month.

A counter the plan does not limit is left out (unlimited). Replicas stop at zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from switchboard.billing.models import Plan
from switchboard.contracts import EntitlementData


@dataclass(frozen=True, slots=True)
class Used:
    messages_today: int = 0
    messages_this_month: int = 0
    llm_tokens_this_month: int = 0


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def month_of(moment: datetime) -> date:
    return day_of(moment).replace(day=1)


def next_day(now: datetime) -> datetime:
    """When today's counts reset: tomorrow, 00:00 UTC."""
    return datetime.combine(day_of(now) + timedelta(days=1), time(0), tzinfo=UTC)


def next_month(now: datetime) -> datetime:
    """When this month's counts reset: the first of next month, 00:00 UTC."""
    first = month_of(now)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(following, time(0), tzinfo=UTC)


def limits(plan: Plan) -> dict[str, int]:
    given = {
        "messages_daily": plan.messages_daily,
        "messages_monthly": plan.messages_monthly,
        "llm_tokens_monthly": plan.llm_tokens_monthly,
    }
    return {name: value for name, value in given.items() if value is not None}


def remaining(plan: Plan, used: Used) -> dict[str, int]:
    left: dict[str, int] = {}
    messages = [
        limit - count
        for limit, count in (
            (plan.messages_daily, used.messages_today),
            (
                None if plan.overage_price is not None else plan.messages_monthly,
                used.messages_this_month,
            ),
        )
        if limit is not None
    ]
    if messages:
        left["messages"] = left["ai_replies"] = max(0, min(messages))
    if plan.llm_tokens_monthly is not None:
        left["llm_tokens"] = max(0, plan.llm_tokens_monthly - used.llm_tokens_this_month)
    return left


def entitlement(plan: Plan, state: str, contact_address: str, used: Used) -> EntitlementData:
    return EntitlementData.model_validate(
        {
            "plan": plan.id,
            "state": state,
            "contact_address": contact_address or None,
            "limits": limits(plan),
            "remaining": remaining(plan, used),
        }
    )


def signature(data: EntitlementData) -> dict[str, Any]:
    """What replicas act on: the plan, its state and limits, and which counters are used up.
    A change in any of these is published; a count going down short of zero is not."""
    return {
        "plan": data.plan,
        "state": data.state,
        "limits": data.limits,
        "exhausted": sorted(name for name, left in data.remaining.items() if left <= 0),
    }
