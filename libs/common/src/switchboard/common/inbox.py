"""The inbox: one row per (consumer, event) so a redelivered event never doubles an effect."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Column, DateTime, MetaData, String, Table, bindparam, func
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


def inbox_table(metadata: MetaData) -> Table:
    """The `inbox` table in a service's schema."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", PgUUID(as_uuid=True), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class Inbox:
    def __init__(self, table: Table) -> None:
        self.table = table
        # Built once: building it for every event was a fifth of a consumer transaction's CPU.
        self._claim = (
            insert(table)
            .values(consumer=bindparam("consumer"), event_id=bindparam("event_id"))
            .on_conflict_do_nothing()
            .returning(table.c.event_id)
        )

    async def claim(self, session: AsyncSession, consumer: str, event_id: UUID) -> bool:
        """Record the event as processed by `consumer`; False if it already was."""
        result = await session.execute(self._claim, {"consumer": consumer, "event_id": event_id})
        return result.first() is not None

    async def claim_many(
        self, session: AsyncSession, consumer: str, event_ids: list[UUID]
    ) -> set[UUID]:
        """Record several events at once; returns those not processed before."""
        if not event_ids:
            return set()
        statement = (
            insert(self.table)
            .values([{"consumer": consumer, "event_id": e} for e in event_ids])
            .on_conflict_do_nothing()
            .returning(self.table.c.event_id)
        )
        return set((await session.scalars(statement)).all())
