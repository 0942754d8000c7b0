"""EventConsumer on a real broker and database: redelivery never doubles an effect."""

from __future__ import annotations

import asyncio
import secrets
from uuid import uuid4

import pytest
from sqlalchemy import func, select

from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import Delivery, EventConsumer, create_producer
from switchboard.contracts import (
    MessageReceived,
    Topic,
    contact_key,
)

from .conftest import effects_schema, received, schema_database

metadata, effects, inbox = effects_schema("consumer_test")


@pytest.fixture(scope="module")
async def db(database_url: str) -> Database:
    return await schema_database(database_url, metadata)


def consumer(db: Database, bootstrap: str, group: str, producer, run: str, seen: list[int]):
    events = EventConsumer(
        name=group,
        topics=(Topic.MESSAGES_INBOUND,),
        bootstrap_servers=bootstrap,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
        max_records=100,
    )

    async def record(event: MessageReceived, delivery: Delivery) -> None:
        async with delivery.transaction() as session:
            await session.execute(effects.insert().values(event_id=event.event_id, run=run))
        seen.append(1)
        await asyncio.sleep(0.01)  # slow enough to be interrupted mid-batch

    events.on(MessageReceived, record)
    return events


class TestRedelivery:
    async def test_a_consumer_killed_mid_batch_neither_loses_nor_doubles(
        self, db: Database, kafka_bootstrap: str
    ) -> None:
        # Given 40 events of one tenant on the topic
        tenant_id = uuid4()
        events = [received(tenant_id, f"m{i}") for i in range(40)]
        producer = create_producer(kafka_bootstrap, client_id="test")
        await producer.start()
        for event in events:
            key = contact_key(tenant_id, event.data.from_address)
            await producer.send_and_wait(
                Topic.MESSAGES_INBOUND.value, event.model_dump_json().encode(), key=key
            )
        group = f"test-{secrets.token_hex(4)}"
        # When a consumer is killed after 15 effects, before it commits its batch's offsets
        seen: list[int] = []
        first = asyncio.create_task(
            consumer(db, kafka_bootstrap, group, producer, "first", seen).run()
        )
        while len(seen) < 15:  # noqa: ASYNC110 - polling a plain list the handler appends to
            await asyncio.sleep(0.005)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        # And a new consumer of the same group takes over
        second_seen: list[int] = []
        second = asyncio.create_task(
            consumer(db, kafka_bootstrap, group, producer, "second", second_seen).run()
        )
        ids = {e.event_id for e in events}

        async def effect_count() -> int:
            async with db.transaction() as session:
                return int(
                    await session.scalar(
                        select(func.count()).select_from(effects).where(effects.c.event_id.in_(ids))
                    )
                    or 0
                )

        for _ in range(800):  # a crashed member is only evicted after its session times out
            if await effect_count() >= 40:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
        await producer.stop()
        # Then every event had its effect exactly once
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    select(effects.c.event_id, func.count())
                    .where(effects.c.event_id.in_(ids))
                    .group_by(effects.c.event_id)
                )
            ).all()
        assert len(rows) == 40
        assert {count for _, count in rows} == {1}


class TestConcurrentKeys:
    async def test_contacts_run_concurrently_and_each_in_order(
        self, db: Database, kafka_bootstrap: str
    ) -> None:
        # Given four contacts with three messages each, interleaved on one partition
        tenant_id = uuid4()
        contacts = [f"+1555000100{i}" for i in range(4)]
        events = [
            received(tenant_id, f"{n}", from_address=contact)
            for n in range(3)
            for contact in contacts
        ]
        producer = create_producer(kafka_bootstrap, client_id="test-keys")
        await producer.start()
        for event in events:
            key = contact_key(tenant_id, event.data.from_address)
            await producer.send_and_wait(
                Topic.MESSAGES_INBOUND.value, event.model_dump_json().encode(), key=key, partition=0
            )
        # When a consumer with concurrent keys handles them with a slow handler
        handled: dict[str, list[str]] = {contact: [] for contact in contacts}
        in_flight, most = 0, 0

        async def slow(event: MessageReceived, delivery: Delivery) -> None:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.2)  # a model call
            handled[event.data.from_address].append(event.data.body)
            in_flight -= 1

        consumer = EventConsumer(
            name=f"test-{secrets.token_hex(4)}",
            topics=(Topic.MESSAGES_INBOUND,),
            bootstrap_servers=kafka_bootstrap,
            db=db,
            inbox=Inbox(inbox),
            producer=producer,
            batch_transactions=False,
            concurrent_keys=True,
        )
        consumer.on(MessageReceived, slow)
        task = asyncio.create_task(consumer.run())
        for _ in range(400):
            if sum(len(bodies) for bodies in handled.values()) == len(events):
                break
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
        # Then contacts were handled at the same time, and each contact's messages in order
        assert most > 1
        assert handled == {contact: ["0", "1", "2"] for contact in contacts}
