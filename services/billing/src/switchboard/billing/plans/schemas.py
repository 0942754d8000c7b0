"""Plans as the API shows and takes them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

PlanId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


class PlanWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["Basic"])
    price: Decimal = Field(ge=0, max_digits=10, decimal_places=2, examples=["4.99"])
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    interval: Literal["month", "year"] = "month"
    per_line: StrictBool = Field(
        default=False, description="The price is per line (each member of a family plan)."
    )
    messages_daily: int | None = Field(default=None, ge=0, description="None: unlimited.")
    messages_monthly: int | None = Field(default=None, ge=0, description="None: unlimited.")
    llm_tokens_monthly: int | None = Field(default=None, ge=0, description="None: unlimited.")
    overage_price: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=10,
        decimal_places=4,
        description="Per message beyond the monthly allowance; none: the allowance is a hard stop.",
    )
    features: list[Annotated[str, StringConstraints(min_length=1, max_length=60)]] = Field(
        default_factory=list, max_length=50, examples=[["assistant", "campaigns"]]
    )
    active: StrictBool = Field(
        default=True, description="Offered to new subscribers; false keeps serving existing ones."
    )
    stripe_price_id: str | None = Field(
        default=None,
        max_length=100,
        description="The Stripe price Checkout sells it at (price_...); none: not sold through "
        "Stripe.",
    )


class PlanRead(PlanWrite):
    model_config = ConfigDict(from_attributes=True)

    id: str
    updated_at: datetime
