"""Subscriptions and quotas as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

SubscriptionState = Literal["active", "grace", "suspended"]


class SubscriptionWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=40, examples=["basic"])


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    contact_address: str | None = Field(description="The end user's number; null: the tenant.")
    plan: str
    state: SubscriptionState
    created_at: datetime
    updated_at: datetime


class QuotaRead(BaseModel):
    contact_address: str | None = Field(description="The end user; null: the whole tenant.")
    plan: str | None = Field(description="Null: no plan, so nothing is limited.")
    state: SubscriptionState | None
    limits: dict[str, int] = Field(
        examples=[{"messages_daily": 50, "messages_monthly": 500, "llm_tokens_monthly": 500000}]
    )
    used: dict[str, int] = Field(
        examples=[{"messages_today": 3, "messages_this_month": 42, "llm_tokens_this_month": 9000}]
    )
    remaining: dict[str, int] = Field(
        description="What the other services stop at (at 0): `messages` (and `ai_replies`, the "
        "same), `llm_tokens`; a counter the plan does not limit is left out.",
        examples=[{"messages": 47, "ai_replies": 47, "llm_tokens": 491000}],
    )
    day_resets_at: datetime
    month_resets_at: datetime
