"""The usage ledger: billable facts in, totals and entries out.

A fact is keyed by (tenant, kind, source): the same SMS reported by its `sent` and `delivered`
status, or by a status and a usage event, lands on one row and is counted once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from sqlalchemy import Boolean, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.models import UsageEntry
from switchboard.billing.periods import Period
from switchboard.billing.usage.rates import Price, RateCard
from switchboard.billing.usage.schemas import UsageTotal
from switchboard.contracts import (
    MessageStatusChanged,
    MessageStatusChangedData,
    UsageKind,
    UsageRecorded,
)

UNITS: Final[dict[UsageKind, str]] = {
    "llm_tokens": "tokens",
    "sms_segments": "segments",
    "whatsapp_conversations": "conversations",
}
# Whoever reported the fact priced it; a rate-card estimate is ours and may be replaced.
REPORTED: Final = "reported"
RATE_CARD: Final = "rate_card"
# An SMS is billable once the provider took it; either status may carry the segment count.
BILLABLE_STATUSES: Final = frozenset({"sent", "delivered"})


def billable_segments(data: MessageStatusChangedData) -> int | None:
    """Segments to bill for this status change, or None when it bills nothing."""
    if data.channel != "sms" or data.status not in BILLABLE_STATUSES:
        return None
    return data.segments or None


def sms_price(
    data: MessageStatusChangedData, segments: int, rate_card: RateCard
) -> tuple[Price, str]:
    """The provider's price when it reported one, else the rate card's estimate."""
    if data.price is None:
        return rate_card.sms(segments), RATE_CARD
    return Price(data.price, data.currency or rate_card.currency), REPORTED


class UsageLedger:
    async def record_usage(self, session: AsyncSession, event: UsageRecorded) -> UUID | None:
        """Record the fact a usage event reports, unless the ledger already has it; its ledger
        id when it is new."""
        data = event.data
        return await self._insert(
            session,
            {
                "tenant_id": event.tenant_id,
                "kind": data.kind,
                "quantity": data.quantity,
                "unit": UNITS[data.kind],
                "cost": data.cost,
                "currency": data.currency,
                "priced_by": REPORTED,
                "source_id": data.source_id,
                "occurred_at": event.occurred_at,
                "provider": data.provider,
                "model": data.model,
                "channel": data.channel,
                "contact_address": data.contact_address,
                "event_id": event.event_id,
            },
        )

    async def record_sms(
        self, session: AsyncSession, event: MessageStatusChanged, rate_card: RateCard
    ) -> UUID | None:
        """Record the segments of a sent SMS, at the provider's price or else the rate card's;
        its ledger id when it is a new fact (its other status may have brought it already)."""
        data = event.data
        segments = billable_segments(data)
        if segments is None:
            return None
        price, priced_by = sms_price(data, segments, rate_card)
        return await self._insert(
            session,
            {
                "tenant_id": event.tenant_id,
                "kind": "sms_segments",
                "quantity": segments,
                "unit": UNITS["sms_segments"],
                "cost": price.amount,
                "currency": price.currency,
                "priced_by": priced_by,
                "source_id": str(data.message_id),
                "occurred_at": event.occurred_at,
                "provider": data.provider,
                "channel": data.channel,
                "contact_address": data.to_address,
                "event_id": event.event_id,
            },
        )

    async def totals(
        self, session: AsyncSession, tenant_id: UUID, period: Period
    ) -> list[UsageTotal]:
        """Quantity and cost per kind (and currency) of one tenant's facts in `period`."""
        statement = (
            select(
                UsageEntry.kind,
                UsageEntry.unit,
                UsageEntry.currency,
                func.sum(UsageEntry.quantity).label("quantity"),
                func.sum(UsageEntry.cost).label("cost"),
                func.count().label("entries"),
            )
            .where(
                UsageEntry.tenant_id == tenant_id,
                UsageEntry.occurred_at >= period.start,
                UsageEntry.occurred_at < period.end,
            )
            .group_by(UsageEntry.kind, UsageEntry.unit, UsageEntry.currency)
            .order_by(UsageEntry.kind, UsageEntry.currency)
        )
        rows = await session.execute(statement)
        return [UsageTotal.model_validate(row, from_attributes=True) for row in rows]

    async def entries(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        *,
        limit: int,
        before: datetime | None = None,
        kind: UsageKind | None = None,
    ) -> Sequence[UsageEntry]:
        """One tenant's ledger rows, newest first."""
        statement = select(UsageEntry).where(UsageEntry.tenant_id == tenant_id)
        if before is not None:
            statement = statement.where(UsageEntry.occurred_at < before)
        if kind is not None:
            statement = statement.where(UsageEntry.kind == kind)
        statement = statement.order_by(UsageEntry.occurred_at.desc(), UsageEntry.id.desc())
        return (await session.scalars(statement.limit(limit))).all()

    async def _insert(self, session: AsyncSession, values: dict[str, Any]) -> UUID | None:
        """Insert a fact once; a later reported price replaces an earlier rate-card estimate.
        The new row's id, when the fact is new."""
        statement = insert(UsageEntry).values(values)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", "kind", "source_id"],
            set_={
                "cost": excluded.cost,
                "currency": excluded.currency,
                "priced_by": excluded.priced_by,
            },
            where=(UsageEntry.priced_by == RATE_CARD) & (excluded.priced_by == REPORTED),
        )
        # xmax is 0 on a row this statement inserted, not on one it updated
        inserted = literal_column("xmax = 0", Boolean)
        row = (await session.execute(statement.returning(UsageEntry.id, inserted))).first()
        return row[0] if row is not None and row[1] else None


usage_ledger = UsageLedger()
