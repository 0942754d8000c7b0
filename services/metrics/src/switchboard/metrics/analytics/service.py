"""Hourly rollups: counted in the consumer's transaction, read back per tenant."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.metrics.analytics.counting import METRICS, NO_DIMENSION, Increment, Metric
from switchboard.metrics.analytics.schemas import HourlyPoint, MetricTotal
from switchboard.metrics.models import HourlyRollup, KnownContact
from switchboard.metrics.periods import Window


class Rollups:
    async def add(self, session: AsyncSession, increments: Iterable[Increment]) -> None:
        """Add increments to their hourly counters (in the caller's transaction)."""
        totals: Counter[tuple[UUID, datetime, str, str]] = Counter()
        for i in increments:
            totals[(i.tenant_id, i.hour, i.metric, i.dimension)] += i.value
        if not totals:
            return
        # Sorted rows lock counters in one order, so concurrent partitions cannot deadlock.
        rows = [
            {"tenant_id": t, "hour": h, "metric": m, "dimension": d, "value": v}
            for (t, h, m, d), v in sorted(totals.items())
        ]
        statement = insert(HourlyRollup).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", "hour", "metric", "dimension"],
            set_={"value": HourlyRollup.value + statement.excluded.value},
        )
        await session.execute(statement)

    async def summary(
        self, session: AsyncSession, tenant_id: UUID, window: Window
    ) -> dict[str, MetricTotal]:
        """Every metric's total and its split by dimension over the hours of `window`."""
        statement = (
            select(HourlyRollup.metric, HourlyRollup.dimension, func.sum(HourlyRollup.value))
            .where(*_in_window(tenant_id, window))
            .group_by(HourlyRollup.metric, HourlyRollup.dimension)
            .order_by(HourlyRollup.metric, HourlyRollup.dimension)
        )
        summary: dict[str, MetricTotal] = {metric: MetricTotal() for metric in METRICS}
        for metric, dimension, value in await session.execute(statement):
            total = summary.setdefault(metric, MetricTotal())
            total.total += int(value)
            if dimension != NO_DIMENSION:
                total.by_dimension[dimension] = int(value)
        return summary

    async def hourly(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        metric: Metric,
        window: Window,
        dimension: str | None = None,
    ) -> list[HourlyPoint]:
        """One metric's counters hour by hour; hours without activity are left out."""
        statement = select(HourlyRollup).where(
            *_in_window(tenant_id, window), HourlyRollup.metric == metric
        )
        if dimension is not None:
            statement = statement.where(HourlyRollup.dimension == dimension)
        rows = await session.scalars(statement.order_by(HourlyRollup.hour, HourlyRollup.dimension))
        return [
            HourlyPoint(hour=r.hour, dimension=r.dimension or None, value=r.value) for r in rows
        ]


def _in_window(tenant_id: UUID, window: Window) -> tuple[ColumnElement[bool], ...]:
    return (
        HourlyRollup.tenant_id == tenant_id,
        HourlyRollup.hour >= window.start,
        HourlyRollup.hour < window.end,
    )


class KnownContacts:
    async def first_seen(self, session: AsyncSession, tenant_id: UUID, contact_id: UUID) -> bool:
        """Remember the contact; True only the first time it is seen."""
        statement = (
            insert(KnownContact)
            .values(tenant_id=tenant_id, contact_id=contact_id)
            .on_conflict_do_nothing()
            .returning(KnownContact.contact_id)
        )
        return (await session.execute(statement)).first() is not None


rollups = Rollups()
known_contacts = KnownContacts()
