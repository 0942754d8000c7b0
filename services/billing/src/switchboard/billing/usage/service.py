"""The usage ledger: billable facts in, totals and entries out.

A fact is keyed by (tenant, kind, source): the same SMS reported by its `sent` and `delivered`
status, or by a status and a usage event, lands on one row and is counted once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from sqlalchemy import ColumnElement, Date, Row, cast, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.models import UsageEntry
from switchboard.billing.periods import Period
from switchboard.billing.usage.rates import Price, RateCard
from switchboard.billing.usage.schemas import BreakdownRow, Grouping, UsageTotal, plain
from switchboard.common.db import Database
from switchboard.contracts import (
    MessageStatusChanged,
    MessageStatusChangedData,
    UsageKind,
    UsageRecorded,
    new_event_id,
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

# What a breakdown's groupings group by, named as the row's key. Every row is per kind, unit
# and currency anyway (tokens and segments never add up), so `kind` adds no key of its own.
# Days are UTC days; the zone is a literal, so GROUP BY repeats the selected expression exactly.
GROUP_KEYS: Final[dict[Grouping, ColumnElement[Any] | None]] = {
    "day": cast(func.timezone(literal_column("'UTC'"), UsageEntry.occurred_at), Date).label("day"),
    "channel": UsageEntry.channel.label("channel"),
    "campaign": UsageEntry.campaign_id.label("campaign_id"),
    "contact": UsageEntry.contact_address.label("contact_address"),
    "kind": None,
}
# The ledger's CSV export: one line per fact, oldest first, under this header.
CSV_COLUMNS: Final = (
    "id",
    "occurred_at",
    "kind",
    "quantity",
    "unit",
    "cost",
    "currency",
    "priced_by",
    "channel",
    "campaign_id",
    "contact_address",
    "provider",
    "model",
    "source_id",
)
CSV_BATCH: Final = 1000


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    """Narrows a query to one end user's facts, or one campaign's."""

    contact_address: str | None = None
    campaign_id: UUID | None = None


def _within(tenant_id: UUID, period: Period, only: LedgerFilter) -> list[ColumnElement[bool]]:
    """One tenant's facts in `period` (and `only`'s)."""
    conditions = [
        UsageEntry.tenant_id == tenant_id,
        UsageEntry.occurred_at >= period.start,
        UsageEntry.occurred_at < period.end,
    ]
    if only.contact_address is not None:
        conditions.append(UsageEntry.contact_address == only.contact_address)
    if only.campaign_id is not None:
        conditions.append(UsageEntry.campaign_id == only.campaign_id)
    return conditions


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


def usage_fact(event: UsageRecorded) -> dict[str, Any]:
    """The ledger row a usage event reports, priced by its reporter."""
    data = event.data
    return {
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
        "campaign_id": data.campaign_id,
        "event_id": event.event_id,
    }


def sms_fact(event: MessageStatusChanged, rate_card: RateCard) -> dict[str, Any] | None:
    """The ledger row of a sent SMS's segments, at the provider's price or else the rate
    card's; None for a status that bills nothing."""
    data = event.data
    segments = billable_segments(data)
    if segments is None:
        return None
    price, priced_by = sms_price(data, segments, rate_card)
    return {
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
        "model": None,
        "channel": data.channel,
        "contact_address": data.to_address,
        "campaign_id": data.campaign_id,
        "event_id": event.event_id,
    }


_LEDGER_COLUMNS = (
    ("id", "uuid"),
    ("tenant_id", "uuid"),
    ("kind", "text"),
    ("quantity", "bigint"),
    ("unit", "text"),
    ("cost", "numeric"),
    ("currency", "text"),
    ("priced_by", "text"),
    ("source_id", "text"),
    ("occurred_at", "timestamptz"),
    ("provider", "text"),
    ("model", "text"),
    ("channel", "text"),
    ("contact_address", "text"),
    ("campaign_id", "uuid"),
    ("event_id", "uuid"),
)
_LEDGER_UNNEST = text(
    f"""
    INSERT INTO billing.usage_ledger AS l ({", ".join(c for c, _ in _LEDGER_COLUMNS)})
    SELECT * FROM unnest({", ".join(f"CAST(:{c} AS {t}[])" for c, t in _LEDGER_COLUMNS)})
    ON CONFLICT (tenant_id, kind, source_id) DO UPDATE
    SET cost = excluded.cost, currency = excluded.currency, priced_by = excluded.priced_by
    WHERE l.priced_by = '{RATE_CARD}' AND excluded.priced_by = '{REPORTED}'
    RETURNING l.id, l.tenant_id, l.kind, l.source_id, (xmax = 0) AS inserted
    """  # noqa: S608 - only our own column names and constants are formatted in
)


class UsageLedger:
    async def record(
        self, session: AsyncSession, facts: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Insert facts once each, in one statement; a reported price replaces an earlier
        rate-card estimate. The facts that are new, each with its ledger `id`.

        The same fact twice in `facts` (an SMS's `sent` and `delivered` in one batch) is one
        row: the reported price wins over an estimate."""
        unique: dict[tuple[Any, ...], dict[str, Any]] = {}
        for fact in facts:
            key = (fact["tenant_id"], fact["kind"], fact["source_id"])
            known = unique.get(key)
            if known is None or (known["priced_by"] == RATE_CARD and fact["priced_by"] == REPORTED):
                unique[key] = fact
        if not unique:
            return []
        rows = list(unique.values())
        # One statement text for every batch (compiled and prepared once), the rows as one
        # array per column: a VALUES list of 500 rows took ~140 ms to compile, each batch.
        parameters: dict[str, list[Any]] = {
            c: [r.get(c) for r in rows] for c, _ in _LEDGER_COLUMNS if c != "id"
        }
        parameters["id"] = [new_event_id() for _ in rows]
        new = []
        for row in await session.execute(_LEDGER_UNNEST, parameters):
            if row.inserted:
                fact = unique[(row.tenant_id, row.kind, row.source_id)]
                new.append({**fact, "id": row.id})
        return new

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
            .where(*_within(tenant_id, period, LedgerFilter()))
            .group_by(UsageEntry.kind, UsageEntry.unit, UsageEntry.currency)
            .order_by(UsageEntry.kind, UsageEntry.currency)
        )
        rows = await session.execute(statement)
        return [UsageTotal.model_validate(row, from_attributes=True) for row in rows]

    async def breakdown(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        period: Period,
        group_by: Sequence[Grouping],
        only: LedgerFilter,
    ) -> list[BreakdownRow]:
        """Quantity and cost of one tenant's facts in `period`, per group of `group_by` (in that
        order) and per kind and currency, summed by the database; ordered by the same keys."""
        keys = [key for g in dict.fromkeys(group_by) if (key := GROUP_KEYS[g]) is not None]
        per = (*keys, UsageEntry.kind, UsageEntry.unit, UsageEntry.currency)
        statement = (
            select(
                *per,
                func.sum(UsageEntry.quantity).label("quantity"),
                func.sum(UsageEntry.cost).label("cost"),
                func.count().label("entries"),
            )
            .where(*_within(tenant_id, period, only))
            .group_by(*per)
            .order_by(*keys, UsageEntry.kind, UsageEntry.currency)
        )
        rows = await session.execute(statement)
        # Only the grouped keys are set on a row, so the API shows only those.
        return [BreakdownRow.model_validate(dict(row._mapping)) for row in rows]

    async def export_csv(
        self,
        db: Database,
        tenant_id: UUID,
        period: Period,
        only: LedgerFilter,
        *,
        batch_size: int = CSV_BATCH,
    ) -> AsyncIterator[str]:
        """One tenant's facts in `period` as CSV, oldest first: the header, then a chunk per
        batch of rows read from a server-side cursor, so the ledger is never whole in memory.

        The transaction is the stream's own (the response is sent after the request's session
        has ended); if it fails midway the response stops short of its end, which the client
        sees as a broken transfer rather than a complete file."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        statement = (
            select(*(getattr(UsageEntry, column) for column in CSV_COLUMNS))
            .where(*_within(tenant_id, period, only))
            .order_by(UsageEntry.occurred_at, UsageEntry.id)
            .execution_options(yield_per=batch_size)
        )
        async with db.transaction() as session:
            result = await session.stream(statement)
            yield _drain(buffer)
            async for rows in result.partitions():
                writer.writerows(_csv_line(row) for row in rows)
                yield _drain(buffer)

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


def _csv_line(row: Row[Any]) -> Iterable[object]:
    """A ledger row's CSV fields: empty for none, amounts without trailing zeros, times ISO."""
    for value in row:
        if value is None:
            yield ""
        elif isinstance(value, Decimal):
            yield plain(value)
        elif isinstance(value, datetime):
            yield value.isoformat()
        else:
            yield value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


usage_ledger = UsageLedger()
