"""Per-sender sending rates: each number sends at most its rate, whatever asked for the sends.

Carriers and Meta limit how fast one number may send (a US long code about 1 message a second, a
toll-free number 3, a short code 100, a WhatsApp number 80); past that they queue, throttle or
block. Each number's rate is its own (`messages_per_second`) or its type's
(`SWITCHBOARD_GATEWAY_SEND_RATES`).

Slots are reserved in the database, so several dispatchers together still keep each number to
its rate: a claim locks the number's `sender_pacing` row, takes at most the messages that fit
in the next `horizon` seconds from its next free slot, gives each its own slot (one every
1/rate seconds) and moves the next free slot past them. The dispatcher calls the provider for
each message at its slot. Replies still go before bulk: the claim takes each number's messages
in priority order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import ColumnElement, DateTime, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.gateway.models import OutboundMessage, SenderNumber, SenderPacing

DEFAULT_RATES: dict[str, float] = {
    "long_code": 1.0,
    "toll_free": 3.0,
    "short_code": 100.0,
    "whatsapp": 80.0,
}


@dataclass(frozen=True, slots=True)
class Quota:
    """How many messages one number may take now, and the slot of the first."""

    sender_number_id: UUID
    start: datetime
    interval: timedelta
    count: int

    def slot(self, index: int) -> datetime:
        return self.start + index * self.interval


class Pacer:
    def __init__(self, rates: Mapping[str, float], *, horizon: float = 1.0) -> None:
        self.rates = {**DEFAULT_RATES, **rates}
        self.horizon = timedelta(seconds=horizon)

    def rate(self, number_type: str, own: Decimal | None) -> float:
        return float(own) if own is not None else self.rates.get(number_type, 1.0)

    async def quotas(
        self, session: AsyncSession, now: datetime, due: ColumnElement[bool], limit: int
    ) -> list[Quota]:
        """Lock the pacing rows of the numbers with due messages; what each may take now."""
        senders = select(OutboundMessage.sender_number_id).where(due).distinct()
        await session.execute(
            insert(SenderPacing)
            .from_select(
                ["sender_number_id", "next_slot"],
                select(senders.subquery().c[0], literal(now, DateTime(timezone=True))),
            )
            .on_conflict_do_nothing(index_elements=[SenderPacing.sender_number_id])
        )
        rows = await session.execute(
            select(
                SenderPacing.sender_number_id,
                SenderPacing.next_slot,
                SenderNumber.number_type,
                SenderNumber.messages_per_second,
            )
            .join(SenderNumber, SenderNumber.id == SenderPacing.sender_number_id)
            .where(
                SenderPacing.sender_number_id.in_(senders.scalar_subquery()),
                SenderPacing.next_slot < now + self.horizon,
            )
            .order_by(SenderPacing.next_slot)
            .with_for_update(of=SenderPacing, skip_locked=True)
        )
        quotas: list[Quota] = []
        for sender_id, next_slot, number_type, own in rows:
            rate = self.rate(number_type, own)
            start = max(next_slot, now)
            count = math.ceil((now + self.horizon - start).total_seconds() * rate)
            quotas.append(Quota(sender_id, start, timedelta(seconds=1 / rate), min(count, limit)))
        return quotas

    async def reserve(self, session: AsyncSession, quota: Quota, taken: int) -> None:
        """Move the number's next free slot past the `taken` messages."""
        if taken:
            row = await session.get(SenderPacing, quota.sender_number_id)
            assert row is not None  # locked by `quotas`
            row.next_slot = quota.slot(taken)
