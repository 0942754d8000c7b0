from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from switchboard.contracts import UsageKind


def _trim(amount: Decimal) -> Decimal:
    """Drop the column's trailing zeros without switching to exponent notation."""
    return Decimal(format(amount.normalize(), "f"))


Money = Annotated[Decimal, AfterValidator(_trim)]


class UsageTotal(BaseModel):
    kind: UsageKind
    unit: str
    quantity: int
    cost: Money
    currency: str
    entries: int = Field(description="How many ledger rows the total sums.")


class UsageSummary(BaseModel):
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    totals: list[UsageTotal]


class LedgerEntryRead(BaseModel):
    id: UUID
    kind: UsageKind
    quantity: int
    unit: str
    cost: Money
    currency: str
    priced_by: str = Field(description="`reported` by the provider or `rate_card` estimate.")
    source_id: str
    occurred_at: datetime
    provider: str | None
    model: str | None
    channel: str | None
    contact_address: str | None
