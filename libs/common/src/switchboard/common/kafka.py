"""Kafka producer and consumer machinery with Switchboard's delivery rules.

Consumers commit offsets only after the handler's transaction commits, dedupe by `event_id`
through the inbox, retry a failing handler a bounded number of times and then park the record on
`<topic>.dlq`. An unreachable database is not a poison message: it is retried until it is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import structlog
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, TopicAlreadyExistsError
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common import telemetry
from switchboard.common.db import Database, is_unavailable
from switchboard.common.errors import SwitchboardError
from switchboard.common.inbox import Inbox
from switchboard.common.outbox import decode_headers
from switchboard.common.pipeline import KeyedPipeline
from switchboard.contracts import AnyEvent, Event, Topic, UnknownEventError, parse_event

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event)


def create_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica (`acks=all`).

    Not idempotent: correctness comes from the outbox and the consumers' inbox, which keeps us
    independent of broker support for InitProducerId.
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=1,
        max_batch_size=256 * 1024,
        request_timeout_ms=15000,
    )


async def ensure_topics(bootstrap_servers: str, *, partitions: int = 8) -> None:
    """Create every topic and its dead-letter topic if missing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="switchboard-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = []
        for topic in Topic:
            config = {"cleanup.policy": "compact"} if topic.compacted else {}
            for name in (topic.value, topic.dead_letter):
                if name not in existing:
                    wanted.append(NewTopic(name, partitions, 1, topic_configs=config))
        for new_topic in wanted:
            with suppress(TopicAlreadyExistsError):
                await admin.create_topics([new_topic])
    finally:
        await admin.close()


class AlreadyProcessed(Exception):
    """Raised inside `Delivery.transaction()` when the inbox has seen this event."""


@dataclass
class Delivery:
    """One record being processed: opens the transaction that also claims the inbox row."""

    db: Database
    inbox: Inbox
    consumer: str
    event: AnyEvent
    topic: str
    shared: AsyncSession | None = None
    """The batch's session when a whole batch shares one transaction (inbox already claimed)."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        if self.shared is not None:
            yield self.shared
            return
        async with self.db.transaction() as session:
            if not await self.inbox.claim(session, self.consumer, self.event.event_id):
                raise AlreadyProcessed
            yield session


async def claim_together(session: AsyncSession, deliveries: Sequence[Delivery]) -> list[bool]:
    """Claim several deliveries' events in the inbox in `session`'s transaction, one statement
    per consumer (for handlers that write many records' effects together); which were new."""
    fresh: set[tuple[str, UUID]] = set()
    for consumer in {d.consumer for d in deliveries}:
        mine = [d for d in deliveries if d.consumer == consumer]
        claimed = await mine[0].inbox.claim_many(
            session, consumer, [d.event.event_id for d in mine]
        )
        fresh.update((consumer, event_id) for event_id in claimed)
    return [(d.consumer, d.event.event_id) in fresh for d in deliveries]


Handler = Callable[[Any, Delivery], Awaitable[None]]
BatchHandler = Callable[[list[AnyEvent], AsyncSession], Awaitable[None]]


@dataclass
class EventConsumer:
    """A consumer group reading some topics and routing each event type to its handler."""

    name: str
    topics: tuple[Topic, ...]
    bootstrap_servers: str
    db: Database
    inbox: Inbox
    producer: AIOKafkaProducer
    max_attempts: int = 5
    retry_delay: float = 0.2
    max_records: int = 500
    batch_transactions: bool = True
    """Apply a partition's batch in one transaction; off for handlers with slow or outside work."""
    concurrent_keys: bool = False
    """Pipeline the records (needs `batch_transactions=False`): keep fetching while earlier
    records run, different keys (contacts) concurrently and one key's records in order, at most
    `max_in_flight` at a time. For handlers that wait on slow outside work (a model call)."""
    max_in_flight: int = 1000
    """With `concurrent_keys`: records taken and not finished; fetching waits at this bound."""
    commit_interval: float = 1.0
    """With `concurrent_keys`: seconds between commits of what is finished."""
    release_grace: float = 5.0
    """With `concurrent_keys`: seconds the records running get to finish when their partitions
    are revoked or the consumer stops; the rest are cancelled and redelivered."""
    fetch_max_wait_ms: int | None = None
    """How long the broker may hold a fetch that finds nothing new. Tansu holds it that long
    even when records arrive meanwhile, so it is also each hop's latency floor; every held fetch
    that comes back empty costs the consumer a little CPU. Default: 25 ms with `concurrent_keys`
    (a contact waits for that reply), else aiokafka's 500 ms."""
    handlers: dict[str, Handler] = field(default_factory=dict)
    batch_handler: BatchHandler | None = None
    batch_types: frozenset[str] = frozenset()
    _positions: dict[TopicPartition, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.concurrent_keys and self.batch_transactions:
            raise ValueError(
                "concurrent_keys runs one transaction per record: batch_transactions=False"
            )

    def on(self, event_type: type[E], handler: Callable[[E, Delivery], Awaitable[None]]) -> None:
        """Route events of `event_type` to `handler`; other types are acknowledged and skipped.

        With `batch_transactions`, a handler may run again after a rollback of its batch, so it
        must only change the database through `delivery.transaction()`.
        """
        self.handlers[event_type.model_fields["type"].default] = handler

    def on_batch(self, handler: BatchHandler, *event_types: type[Event]) -> None:
        """Give events of `event_types` to `handler` a batch at a time, in one transaction.

        For consumers whose effects add up (counters): the handler merges a whole batch into
        one write. It sees only events not processed before, and must only use the session.
        """
        self.batch_handler = handler
        self.batch_types = frozenset(t.model_fields["type"].default for t in event_types)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.name,
            client_id=self.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            # A crashed member holds its partitions until its session expires: keep that short.
            session_timeout_ms=6000,
            heartbeat_interval_ms=1500,
            fetch_max_wait_ms=self.fetch_max_wait_ms or (25 if self.concurrent_keys else 500),
        )
        topics = [t.value for t in self.topics]
        if self.concurrent_keys:
            await self._run_pipelined(consumer, topics)
            return
        consumer.subscribe(topics)
        await consumer.start()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=self.max_records)
                if batch:
                    await self.process_batch(batch)
                    await self._commit(
                        consumer, {tp: records[-1].offset + 1 for tp, records in batch.items()}
                    )
                self._record_lag(consumer)
        finally:
            await consumer.stop()

    async def _run_pipelined(self, consumer: AIOKafkaConsumer, topics: list[str]) -> None:
        """Fetch while records run, up to `max_in_flight`; commit what is done as it gets done."""
        pipeline = KeyedPipeline(self._process, limit=self.max_in_flight, consumer=self.name)

        async def release(partitions: Collection[TopicPartition]) -> None:
            await self._commit(consumer, await pipeline.release(partitions, self.release_grace))

        consumer.subscribe(topics, listener=_OnRevoked(release))
        await consumer.start()
        try:
            committed = time.monotonic()
            while True:
                pipeline.raise_failure()
                if pipeline.room > 0:
                    batch = await consumer.getmany(
                        timeout_ms=round(self.commit_interval * 1000),
                        max_records=min(self.max_records, pipeline.room),
                    )
                    for tp, records in batch.items():
                        pipeline.add(tp, records)
                else:
                    await pipeline.wait_for_room(self.commit_interval)
                if time.monotonic() - committed >= self.commit_interval:
                    await self._commit(consumer, pipeline.committable())
                    self._record_lag(consumer)
                    committed = time.monotonic()
        finally:
            try:
                await release(consumer.assignment())
            finally:
                await consumer.stop()

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        assigned = consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in offsets.items()
            if tp in assigned and self._positions.get(tp) != offset
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # A rebalance took the partitions away; whoever gets them redelivers, and the inbox
            # drops what this member already did.
            log.warning("consumer.commit_failed", consumer=self.name, error=str(exc))
            return
        self._positions.update(offsets)

    async def process_batch(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Partitions run concurrently, the records of one partition in order."""
        await asyncio.gather(*(self._process_partition(records) for records in batch.values()))

    async def _process_partition(self, records: list[ConsumerRecord]) -> None:
        if self.batch_transactions and len(records) > 1:
            try:
                await self._process_together(records)
                return
            except Exception as exc:  # noqa: BLE001 - redo one by one, with retries and the DLQ
                log.info("consumer.batch_fallback", consumer=self.name, error=repr(exc))
        await self._process_in_order(records)

    async def _process_in_order(self, records: list[ConsumerRecord]) -> None:
        for record in records:
            await self._process(record)

    async def _process_together(self, records: list[ConsumerRecord]) -> None:
        """One transaction and one inbox statement for a partition's whole batch."""
        started = time.perf_counter()
        events = [(r, parse_event(r.value)) for r in records if r.value is not None]
        wanted = [(r, e) for r, e in events if self._wants(e)]
        outcomes: list[tuple[str, str]] = []
        async with self.db.transaction() as session:
            fresh = await self.inbox.claim_many(session, self.name, [e.event_id for _, e in wanted])
            applied: list[AnyEvent] = []
            for record, event in wanted:
                if event.event_id not in fresh:
                    outcomes.append((record.topic, "duplicate"))
                    continue
                fresh.discard(event.event_id)  # the same event twice in one batch counts once
                outcomes.append((record.topic, "processed"))
                if event.type in self.batch_types:
                    applied.append(event)
                    continue
                delivery = Delivery(self.db, self.inbox, self.name, event, record.topic, session)
                with self._span(record, event):
                    await self.handlers[event.type](event, delivery)
            if self.batch_handler is not None and applied:
                await self.batch_handler(applied, session)
        outcomes += [(r.topic, "skipped") for r, e in events if not self._wants(e)]
        elapsed = (time.perf_counter() - started) / max(1, len(records))
        for topic, outcome in outcomes:
            telemetry.CONSUMER_MESSAGES.labels(self.name, topic, outcome).inc()
            telemetry.CONSUMER_DURATION.labels(self.name, topic).observe(elapsed)

    async def _process(self, record: ConsumerRecord) -> None:
        started = time.perf_counter()
        outcome = "processed"
        if record.value is None:  # a compaction tombstone: nothing to apply
            telemetry.CONSUMER_MESSAGES.labels(self.name, record.topic, "tombstone").inc()
            return
        try:
            event = parse_event(record.value)
        except UnknownEventError as exc:
            await self._dead_letter(record, f"unparseable: {exc}")
            outcome = "dead_lettered"
        else:
            handler = self._handler_for(event)
            outcome = "skipped" if handler is None else await self._handle(record, event, handler)
        telemetry.CONSUMER_MESSAGES.labels(self.name, record.topic, outcome).inc()
        telemetry.CONSUMER_DURATION.labels(self.name, record.topic).observe(
            time.perf_counter() - started
        )

    async def _handle(self, record: ConsumerRecord, event: AnyEvent, handler: Handler) -> str:
        delivery = Delivery(self.db, self.inbox, self.name, event, record.topic)
        attempt = 0
        while True:
            attempt += 1
            with self._span(record, event):
                structlog.contextvars.bind_contextvars(tenant_id=str(event.tenant_id))
                try:
                    await handler(event, delivery)
                    return "processed"
                except AlreadyProcessed:
                    return "duplicate"
                except SwitchboardError as exc:
                    # A domain refusal will not change on retry: park it at once.
                    log.warning(
                        "consumer.refused", consumer=self.name, type=event.type, error=str(exc)
                    )
                    await self._dead_letter(record, f"{type(exc).__name__}: {exc}")
                    return "dead_lettered"
                except Exception as exc:
                    if is_unavailable(exc):
                        log.warning("consumer.database_unavailable", consumer=self.name)
                        await asyncio.sleep(min(5.0, self.retry_delay * attempt))
                        attempt = 0
                        continue
                    if attempt >= self.max_attempts:
                        log.exception("consumer.dead_lettered", consumer=self.name, type=event.type)
                        await self._dead_letter(record, repr(exc))
                        return "dead_lettered"
                    log.warning(
                        "consumer.retry", consumer=self.name, attempt=attempt, error=repr(exc)
                    )
                    await asyncio.sleep(self.retry_delay * 2 ** (attempt - 1))
                finally:
                    structlog.contextvars.unbind_contextvars("tenant_id")

    def _wants(self, event: AnyEvent) -> bool:
        return event.type in self.batch_types or event.type in self.handlers

    def _handler_for(self, event: AnyEvent) -> Handler | None:
        batch_handler = self.batch_handler
        if batch_handler is None or event.type not in self.batch_types:
            return self.handlers.get(event.type)

        async def one(single: AnyEvent, delivery: Delivery) -> None:
            async with delivery.transaction() as session:
                await batch_handler([single], session)

        return one

    @contextmanager
    def _span(self, record: ConsumerRecord, event: AnyEvent) -> Iterator[None]:
        """A consumer span continuing the producer's trace from the record's headers."""
        attributes = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.consumer.group.name": self.name,
            "messaging.kafka.offset": record.offset,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.message.id": str(event.event_id),
        }
        with (
            telemetry.continued_trace(decode_headers(record.headers)),
            telemetry.tracer(__name__).start_as_current_span(
                f"process {record.topic}", kind=SpanKind.CONSUMER, attributes=attributes
            ),
        ):
            yield

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        headers = [
            *list(record.headers or []),
            ("dlq.error", error[:2000].encode()),
            ("dlq.consumer", self.name.encode()),
            ("dlq.offset", str(record.offset).encode()),
        ]
        await (
            await self.producer.send(
                f"{record.topic}.dlq", value=record.value, key=record.key, headers=headers
            )
        )

    def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            position = self._positions.get(tp)
            if highwater is not None and position is not None:
                lag = max(0, highwater - position)
                telemetry.CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(lag)


class _OnRevoked(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Releases revoked partitions before the group moves them, while commits still count."""

    def __init__(self, release: Callable[[Collection[TopicPartition]], Awaitable[None]]) -> None:
        self._release = release

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        await self._release(revoked)

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        """Nothing to do: a partition's records are tracked from its first fetch."""
