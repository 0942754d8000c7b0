"""The transactional outbox: events are written with the state change, then relayed to Kafka."""

from __future__ import annotations

import asyncio
import time
import zlib

import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common import telemetry
from switchboard.common.db import Database
from switchboard.common.notify import Wakeup, notify_trigger_sql, run_passes
from switchboard.contracts import AnyEvent, topic_of

log = structlog.get_logger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    """The `outbox` table in a service's schema."""
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("key", LargeBinary, nullable=True),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("payload", Text, nullable=False),
        Column("headers", JSONB, nullable=False, server_default="{}"),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


def outbox_trigger_sql(schema: str) -> list[str]:
    """DDL that wakes the relay when outbox rows are committed."""
    return notify_trigger_sql(schema, "outbox", notify_channel(schema))


class Outbox:
    """Adds events to the outbox inside the caller's transaction."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def add(self, session: AsyncSession, event: AnyEvent, *, key: bytes | None) -> None:
        await self.add_many(session, [(event, key)])

    async def add_many(
        self, session: AsyncSession, events: list[tuple[AnyEvent, bytes | None]]
    ) -> None:
        headers = telemetry.current_trace_headers()
        rows = [
            {
                "topic": topic_of(event).value,
                "key": key,
                "event_id": event.event_id,
                "payload": event.model_dump_json(),
                "headers": headers,
            }
            for event, key in events
        ]
        if rows:
            await session.execute(insert(self.table), rows)


class OutboxRelay:
    """Publishes committed outbox rows in order with `acks=all`, then deletes them.

    A transaction-scoped advisory lock lets several replicas run while only one publishes at a
    time, which keeps per-key order.
    """

    def __init__(
        self,
        db: Database,
        producer: AIOKafkaProducer,
        table: Table,
        *,
        batch_size: int = 5000,
        idle_wait: float = 1.0,
    ) -> None:
        self.db = db
        self.producer = producer
        self.table = table
        self.schema = table.schema or "public"
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self._wakeup = Wakeup(db.url, notify_channel(self.schema))
        # The transaction-scoped lock and the oldest rows in one round trip: the lock's flag on
        # every row, and one row of NULLs when nothing waits (or the lock is taken).
        lock_id = zlib.crc32(f"outbox:{self.schema}".encode())
        leader = select(func.pg_try_advisory_xact_lock(lock_id).label("locked")).cte("leader")
        oldest = select(table).order_by(table.c.id).limit(batch_size).subquery("oldest")
        waited = func.extract("epoch", func.clock_timestamp() - oldest.c.created_at)
        self._next_batch = (
            select(leader.c.locked, oldest, waited.label("waited"))
            .select_from(leader.outerjoin(oldest, leader.c.locked))
            .order_by(oldest.c.id)
        )

    async def run(self) -> None:
        """Relay forever; wakes on NOTIFY, polls every `idle_wait` seconds as a safety net."""

        async def work() -> bool:
            return await self.publish_batch() >= self.batch_size  # a full batch: more wait

        async def idle() -> float:
            return self.idle_wait

        await run_passes("outbox", self._wakeup, work, idle, schema=self.schema)

    async def publish_batch(self) -> int:
        """Publish one batch; returns how many events went out."""
        async with self.db.transaction() as session:
            rows = (await session.execute(self._next_batch)).all()
            read_at = time.perf_counter()
            if not rows[0].locked:  # another replica is publishing
                return 0
            rows = [row for row in rows if row.id is not None]
            # What this read found waiting: the whole backlog unless it filled a batch.
            telemetry.OUTBOX_BACKLOG.labels(self.schema).set(len(rows))
            if not rows:
                return 0
            sends = [
                await self.producer.send(
                    row.topic,
                    value=row.payload.encode(),
                    key=row.key,
                    headers=[(k, v.encode()) for k, v in row.headers.items()],
                )
                for row in rows
            ]
            await asyncio.gather(*sends)
            since_read = time.perf_counter() - read_at
            delay = telemetry.OUTBOX_DELAY.labels(self.schema)
            for row in rows:
                delay.observe(float(row.waited) + since_read)
            # Exactly the rows sent: a row with a lower id can commit while we publish.
            published = [row.id for row in rows]
            await session.execute(delete(self.table).where(self.table.c.id.in_(published)))
        telemetry.OUTBOX_PUBLISHED.labels(self.schema).inc(len(rows))
        return len(rows)


def decode_headers(raw: list[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode() for k, v in raw or []}


__all__ = ["Outbox", "OutboxRelay", "decode_headers", "outbox_table", "outbox_trigger_sql"]
