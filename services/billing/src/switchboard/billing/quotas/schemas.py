"""Subscriptions and quotas as the API shows them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

SubscriptionState = Literal["active", "grace", "suspended"]

E164 = r"^\+[1-9][0-9]{6,14}$"
"""An end user's number, as every billing endpoint takes it."""


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


class BudgetWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monthly_amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2, examples=["250.00"])
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    thresholds: list[int] = Field(
        default_factory=lambda: [50, 80, 100],
        min_length=1,
        max_length=10,
        description="Percentages of the amount; crossing each publishes "
        "`billing.budget_threshold_reached` once a month.",
    )

    @field_validator("thresholds")
    @classmethod
    def _percentages(cls, thresholds: list[int]) -> list[int]:
        if any(not 1 <= t <= 1000 for t in thresholds):
            raise ValueError("Thresholds are percentages from 1 to 1000.")
        return sorted(set(thresholds))


class BudgetRead(BudgetWrite):
    spent_this_month: Decimal = Field(description="What this month's usage cost so far.")
    alerted_this_month: list[int] = Field(description="Thresholds already announced this month.")
