"""EventConsumer with concurrent keys pipelines its records, on a real broker and database.

Every test publishes its own tenant's events to partition 0 of `messages.inbound` and reads them
with a fresh consumer group, which also reads what earlier tests left on the topic: handlers let
other tenants' events through at once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import func, select

from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import Delivery, EventConsumer, create_producer
from switchboard.common.pipeline import PartitionOffsets
from switchboard.contracts import (
    MessageReceived,
    Topic,
    contact_key,
)
from switchboard.devstack.testkit import eventually

from .conftest import effects_schema, received, schema_database

metadata, effects, inbox = effects_schema("pipeline_test")
PARTITION = TopicPartition(Topic.MESSAGES_INBOUND.value, 0)

Handler = Callable[[MessageReceived, Delivery], Awaitable[None]]


@pytest.fixture(scope="module")
async def db(database_url: str) -> Database:
    return await schema_database(database_url, metadata)


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = create_producer(kafka_bootstrap, client_id="test-pipeline")
    await producer.start()
    yield producer
    await producer.stop()


def message(tenant_id: UUID, contact: str, body: str) -> MessageReceived:
    return received(tenant_id, body, from_address=contact)


async def publish(producer: AIOKafkaProducer, events: list[MessageReceived]) -> list[int]:
    """Each event to partition 0 keyed by its contact; returns their offsets."""
    offsets = []
    for event in events:
        metadata = await producer.send_and_wait(
            PARTITION.topic,
            event.model_dump_json().encode(),
            key=contact_key(event.tenant_id, event.data.from_address),
            partition=PARTITION.partition,
        )
        offsets.append(metadata.offset)
    return offsets


def pipelined(
    db: Database, bootstrap: str, producer: AIOKafkaProducer, handler: Handler, **options: Any
) -> EventConsumer:
    consumer = EventConsumer(
        name=options.pop("group", f"test-{secrets.token_hex(4)}"),
        topics=(Topic.MESSAGES_INBOUND,),
        bootstrap_servers=bootstrap,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
        batch_transactions=False,
        concurrent_keys=True,
        **options,
    )
    consumer.on(MessageReceived, handler)
    return consumer


@asynccontextmanager
async def running(consumer: EventConsumer) -> AsyncIterator[None]:
    task = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def contacts(count: int) -> list[str]:
    return [f"+1555{secrets.randbelow(10**7):07d}" for _ in range(count)]


class TestOrder:
    async def test_other_contacts_overtake_a_slow_one_which_keeps_its_own_order(
        self, db: Database, kafka_bootstrap: str, producer: AIOKafkaProducer
    ) -> None:
        # Given three messages from each of four contacts, interleaved on one partition
        tenant_id = uuid4()
        slow, *others = contacts(4)
        events = [
            message(tenant_id, contact, f"{n}") for n in range(3) for contact in [slow, *others]
        ]
        await publish(producer, events)
        # And a handler whose model call for the slow contact's first message hangs
        first = events[0]
        answer_slow = asyncio.Event()
        handled: list[tuple[str, str]] = []

        async def handler(event: MessageReceived, delivery: Delivery) -> None:
            if event.tenant_id != tenant_id:
                return
            if event.event_id == first.event_id:
                await answer_slow.wait()
            handled.append((event.data.from_address, event.data.body))

        consumer = pipelined(db, kafka_bootstrap, producer, handler)
        async with running(consumer):
            # When the other contacts' messages are handled
            await eventually(lambda: _true(len(handled) >= 9), within=30)
            overtaken = list(handled)
            # And then the slow contact's model answers
            answer_slow.set()
            await eventually(lambda: _true(len(handled) == 12), within=30)
        # Then the others overtook the slow one, and each contact's messages came in order
        assert sorted(overtaken) == sorted((c, f"{n}") for n in range(3) for c in others)
        for contact in [slow, *others]:
            assert [body for who, body in handled if who == contact] == ["0", "1", "2"]

    async def test_records_keep_being_fetched_while_a_slow_one_is_outstanding(
        self, db: Database, kafka_bootstrap: str, producer: AIOKafkaProducer
    ) -> None:
        # Given a consumer fetching 10 records at a time, busy with one that hangs
        tenant_id = uuid4()
        (slow,) = contacts(1)
        hanging = message(tenant_id, slow, "hangs")
        started, answer_slow = asyncio.Event(), asyncio.Event()
        handled: list[UUID] = []

        async def handler(event: MessageReceived, delivery: Delivery) -> None:
            if event.tenant_id != tenant_id:
                return
            if event.event_id == hanging.event_id:
                started.set()
                await answer_slow.wait()
            handled.append(event.event_id)

        consumer = pipelined(db, kafka_bootstrap, producer, handler, max_records=10)
        await publish(producer, [hanging])
        async with running(consumer):
            await asyncio.wait_for(started.wait(), 30)
            # When 50 more messages arrive from other contacts (five fetches' worth)
            later = [message(tenant_id, contact, "hi") for contact in contacts(50)]
            await publish(producer, later)
            # Then they are all handled while the first one is still outstanding
            await eventually(lambda: _true(len(handled) == 50), within=30)
            assert hanging.event_id not in handled
            answer_slow.set()
            await eventually(lambda: _true(len(handled) == 51), within=30)


class TestBound:
    async def test_records_in_flight_never_exceed_the_bound(
        self, db: Database, kafka_bootstrap: str, producer: AIOKafkaProducer
    ) -> None:
        # Given 30 contacts' messages waiting on the topic
        tenant_id = uuid4()
        events = [message(tenant_id, contact, "hi") for contact in contacts(30)]
        await publish(producer, events)
        # When a consumer with room for 4 records handles them, each taking a moment
        in_flight, most, ours = 0, 0, 0

        async def handler(event: MessageReceived, delivery: Delivery) -> None:
            nonlocal in_flight, most, ours
            in_flight += 1
            most = max(most, in_flight)
            try:
                if event.tenant_id == tenant_id:
                    await asyncio.sleep(0.02)
                    ours += 1
            finally:
                in_flight -= 1

        consumer = pipelined(db, kafka_bootstrap, producer, handler, max_in_flight=4)
        async with running(consumer):
            await eventually(lambda: _true(ours == 30), within=30)
        # Then four ran at once, never more
        assert most == 4


class TestCommits:
    async def test_the_committed_offset_stops_at_the_oldest_unfinished_record(
        self, db: Database, kafka_bootstrap: str, producer: AIOKafkaProducer
    ) -> None:
        # Given 20 messages, the 6th and the 13th from the same contact
        tenant_id = uuid4()
        senders = contacts(19)
        senders.insert(12, senders[5])
        events = [message(tenant_id, contact, f"{n}") for n, contact in enumerate(senders)]
        offsets = await publish(producer, events)
        stuck, queued = events[5], events[12]
        group = f"test-{secrets.token_hex(4)}"

        def recorder(run: str, hang: UUID | None) -> Handler:
            async def handler(event: MessageReceived, delivery: Delivery) -> None:
                if event.tenant_id != tenant_id:
                    return
                if event.event_id == hang:
                    await asyncio.Event().wait()  # a model call that never answers
                async with delivery.transaction() as session:
                    await session.execute(effects.insert().values(event_id=event.event_id, run=run))

            return handler

        # When a consumer committing every 50 ms hangs on the 6th message
        first = pipelined(
            db,
            kafka_bootstrap,
            producer,
            recorder("first", hang=stuck.event_id),
            group=group,
            commit_interval=0.05,
            release_grace=0.1,
        )
        seen: list[int] = []
        async with running(first):
            await eventually(lambda: _effects_count(db, events, "first", 18), within=30)

            async def committed_at_the_stuck_one() -> bool:
                seen.append(await _committed(kafka_bootstrap, group))
                return seen[-1] == offsets[5]

            await eventually(committed_at_the_stuck_one, within=30)
        # Then every commit stopped at the unfinished record, also the one made while stopping
        seen.append(await _committed(kafka_bootstrap, group))
        assert max(seen) == offsets[5]
        assert seen[-1] == offsets[5]
        # And when the consumer is replaced, the unfinished one and the one queued behind it
        # are redelivered and handled in order; nothing is lost or applied twice
        second = pipelined(
            db, kafka_bootstrap, producer, recorder("second", hang=None), group=group
        )
        async with running(second):
            await eventually(lambda: _effects_count(db, events, None, 20), within=60)
        rows = await _effects(db, events)
        assert sorted(event_id for event_id, _, _ in rows) == sorted(e.event_id for e in events)
        by_second = [event_id for event_id, run, _ in rows if run == "second"]
        assert by_second == [stuck.event_id, queued.event_id]

    async def test_a_rebalance_releases_revoked_records_and_loses_none(
        self, db: Database, kafka_bootstrap: str, producer: AIOKafkaProducer
    ) -> None:
        # Given a member of a group hanging on one contact's first message, another queued
        tenant_id = uuid4()
        slow, *others = contacts(11)
        events = [message(tenant_id, slow, "0"), *(message(tenant_id, c, "x") for c in others)]
        events.append(message(tenant_id, slow, "1"))
        await publish(producer, events)
        group = f"test-{secrets.token_hex(4)}"
        hang_once = asyncio.Event()

        async def handler(event: MessageReceived, delivery: Delivery) -> None:
            if event.tenant_id != tenant_id:
                return
            if event.event_id == events[0].event_id and not hang_once.is_set():
                hang_once.set()
                await asyncio.Event().wait()
            async with delivery.transaction() as session:
                await session.execute(effects.insert().values(event_id=event.event_id, run="r"))

        options = {"group": group, "commit_interval": 0.05, "release_grace": 0.2}
        first = pipelined(db, kafka_bootstrap, producer, handler, **options)
        async with running(first):
            await eventually(lambda: _effects_count(db, events, None, 10), within=30)
            assert hang_once.is_set()
            # When a second member joins and the partitions are shared out again
            second = pipelined(db, kafka_bootstrap, producer, handler, **options)
            async with running(second):
                # Then the hanging record was let go and redelivered, and every message of
                # the slow contact was handled, in order, exactly once
                await eventually(lambda: _effects_count(db, events, None, 12), within=60)
                await asyncio.sleep(0.5)  # time for a wrong second effect to show
        rows = await _effects(db, events)
        assert sorted(event_id for event_id, _, _ in rows) == sorted(e.event_id for e in events)
        slow_ids = [event_id for event_id, _, _ in rows if event_id in _ids(events[0], events[-1])]
        assert slow_ids == [events[0].event_id, events[-1].event_id]


class TestPartitionOffsets:
    def test_the_committable_offset_is_the_oldest_unfinished_one(self) -> None:
        offsets = PartitionOffsets()
        for offset in (10, 11, 12, 13):
            offsets.taken(offset)
        assert offsets.committable == 10
        offsets.finished(12)
        offsets.finished(11)
        assert (offsets.committable, len(offsets)) == (10, 2)
        offsets.finished(10)
        assert (offsets.committable, len(offsets)) == (13, 1)
        offsets.finished(13)
        assert (offsets.committable, len(offsets)) == (14, 0)

    def test_nothing_is_committable_before_a_record_is_taken(self) -> None:
        assert PartitionOffsets().committable is None


async def _true(value: bool) -> bool:
    return value


def _ids(*events: MessageReceived) -> set[UUID]:
    return {event.event_id for event in events}


async def _effects(db: Database, events: list[MessageReceived]) -> list[tuple[UUID, str, int]]:
    """(event id, run, row id) of the events' effects, in the order they were applied."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(effects.c.event_id, effects.c.run, effects.c.id)
            .where(effects.c.event_id.in_(_ids(*events)))
            .order_by(effects.c.id)
        )
        return [(row.event_id, row.run, row.id) for row in rows]


async def _effects_count(
    db: Database, events: list[MessageReceived], run: str | None, expected: int
) -> bool:
    query = select(func.count()).select_from(effects).where(effects.c.event_id.in_(_ids(*events)))
    if run is not None:
        query = query.where(effects.c.run == run)
    async with db.transaction() as session:
        return (await session.scalar(query) or 0) >= expected


async def _committed(bootstrap: str, group: str) -> int:
    """The group's committed offset of partition 0 (-1 before any commit)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-offsets")
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=[PARTITION])
    finally:
        await admin.close()
    found = offsets.get(PARTITION)
    return -1 if found is None else int(found.offset)
