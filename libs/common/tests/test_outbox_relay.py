"""The outbox relay on a real broker and database: every committed event goes out."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import REGISTRY

from switchboard.common.db import Database, service_metadata
from switchboard.common.kafka import create_producer
from switchboard.common.outbox import Outbox, OutboxRelay, outbox_table
from switchboard.contracts import TenantData, TenantUpserted, Topic, parse_event, tenant_key

from .conftest import schema_database

metadata = service_metadata("relay_test")
outbox = outbox_table(metadata)
_SCHEMA = {"schema": "relay_test"}


@pytest.fixture(scope="module")
async def db(database_url: str) -> Database:
    return await schema_database(database_url, metadata)


class CommitsWhilePublishing:
    """The real producer, but the first send lets a slower transaction commit meanwhile."""

    def __init__(self, producer: AIOKafkaProducer, on_first_send: Any) -> None:
        self.producer = producer
        self.on_first_send = on_first_send

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        if self.on_first_send is not None:
            hook, self.on_first_send = self.on_first_send, None
            await hook()
        return await self.producer.send(*args, **kwargs)


def tenant_event(tenant_id) -> TenantUpserted:
    return TenantUpserted.create(tenant_id, TenantData(name="relay test"))


async def published_ids(bootstrap: str, tenant_id) -> list[str]:
    consumer = AIOKafkaConsumer(
        Topic.TENANTS.value,
        bootstrap_servers=bootstrap,
        group_id=f"relay-test-{secrets.token_hex(4)}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[str] = []
    try:
        for _ in range(6):
            batch = await consumer.getmany(timeout_ms=300)
            for record in (r for records in batch.values() for r in records):
                event = parse_event(record.value)
                if event.tenant_id == tenant_id:
                    found.append(str(event.event_id))
    finally:
        await consumer.stop()
    return found


class TestPublishBatch:
    async def test_an_event_committed_during_a_publish_is_not_lost(
        self, db: Database, kafka_bootstrap: str
    ) -> None:
        # Given a slow transaction holding an outbox row with a lower id, not yet committed
        tenant_id = uuid4()
        slow_event, fast_event = tenant_event(tenant_id), tenant_event(tenant_id)
        slow = await db.engine.connect()
        slow_tx = await slow.begin()
        await slow.execute(
            outbox.insert().values(
                topic=Topic.TENANTS.value,
                key=tenant_key(tenant_id),
                event_id=slow_event.event_id,
                payload=slow_event.model_dump_json(),
                headers={},
            )
        )
        async with db.transaction() as session:
            await Outbox(outbox).add(session, fast_event, key=tenant_key(tenant_id))
        producer = create_producer(kafka_bootstrap, client_id="relay-test")
        await producer.start()

        async def commit_slow() -> None:
            await slow_tx.commit()

        delays_before = REGISTRY.get_sample_value("outbox_delay_seconds_count", _SCHEMA) or 0
        # When the slow one commits while the relay publishes the fast one
        relay = OutboxRelay(db, CommitsWhilePublishing(producer, commit_slow), outbox)  # type: ignore[arg-type]
        await relay.publish_batch()
        await relay.publish_batch()
        await slow.close()
        await producer.stop()
        # Then both events reach the topic
        assert sorted(await published_ids(kafka_bootstrap, tenant_id)) == sorted(
            [str(slow_event.event_id), str(fast_event.event_id)]
        )
        # And how long each waited in the outbox is measured
        delays = REGISTRY.get_sample_value("outbox_delay_seconds_count", _SCHEMA)
        assert delays == delays_before + 2

    async def test_one_replica_publishes_at_a_time(
        self, db: Database, kafka_bootstrap: str
    ) -> None:
        # Given two replicas' relays and an event waiting
        tenant_id = uuid4()
        async with db.transaction() as session:
            await Outbox(outbox).add(session, tenant_event(tenant_id), key=tenant_key(tenant_id))
        producer = create_producer(kafka_bootstrap, client_id="relay-test")
        await producer.start()
        other = OutboxRelay(db, producer, outbox)
        while_publishing: list[int] = []

        async def other_replica_tries() -> None:
            while_publishing.append(await other.publish_batch())

        relay = OutboxRelay(db, CommitsWhilePublishing(producer, other_replica_tries), outbox)  # type: ignore[arg-type]
        # When the second tries while the first is publishing
        sent = await relay.publish_batch()
        await producer.stop()
        # Then it publishes nothing, and the event goes out once
        assert sent >= 1
        assert while_publishing == [0]
        assert len(await published_ids(kafka_bootstrap, tenant_id)) == 1
