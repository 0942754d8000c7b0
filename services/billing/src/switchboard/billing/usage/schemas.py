from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from switchboard.contracts import UsageKind


def plain(amount: Decimal) -> str:
    """An amount without the column's trailing zeros, never in exponent notation."""
    return format(amount.normalize(), "f")


def _trim(amount: Decimal) -> Decimal:
    return Decimal(plain(amount))


Money = Annotated[Decimal, AfterValidator(_trim)]

Grouping = Literal["day", "channel", "campaign", "kind", "contact"]
"""What a breakdown groups the ledger by; its rows are always per kind and currency too."""


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
    campaign_id: UUID | None = Field(description="The campaign that incurred it, if any.")


class BreakdownRow(BaseModel):
    """One group's usage: only the keys grouped by are present (null: none, e.g. usage of no
    campaign), then the kind, unit and currency every row is split by."""

    day: date | None = Field(default=None, description="The UTC day (`group_by=day`).")
    channel: str | None = Field(default=None, description="`group_by=channel`.")
    campaign_id: UUID | None = Field(default=None, description="`group_by=campaign`.")
    contact_address: str | None = Field(default=None, description="`group_by=contact`.")
    kind: UsageKind
    unit: str
    currency: str
    quantity: int
    cost: Money
    entries: int = Field(description="How many ledger rows the group sums.")


class UsageBreakdown(BaseModel):
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    group_by: list[Grouping]
    rows: list[BreakdownRow]
