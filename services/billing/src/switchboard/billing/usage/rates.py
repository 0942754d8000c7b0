"""The rate card: what billing charges when the provider did not report a price."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Price:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class RateCard:
    sms_segment_price: Decimal
    currency: str

    def sms(self, segments: int) -> Price:
        """The estimated cost of sending `segments` SMS segments."""
        return Price(self.sms_segment_price * segments, self.currency)
