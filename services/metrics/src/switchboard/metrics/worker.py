"""Metrics' worker: reads every topic and adds what each event counts to the hourly rollups."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import EventConsumer, create_producer
from switchboard.common.runtime import database_check, kafka_check, serve_worker
from switchboard.common.settings import PlatformSettings
from switchboard.common.telemetry import configure_logging, configure_tracing
from switchboard.contracts import (
    ConsentOptedOut,
    ContactUpserted,
    MessageReceived,
    MessageStatusChanged,
    Topic,
    UsageRecorded,
)
from switchboard.metrics.analytics.tasks import count, count_new_contact
from switchboard.metrics.config import MetricsSettings
from switchboard.metrics.models import inbox


def rollup_consumer(
    platform: PlatformSettings, db: Database, producer: AIOKafkaProducer
) -> EventConsumer:
    """The `metrics` consumer group on every topic; event types it does not count are skipped."""
    consumer = EventConsumer(
        name="metrics",
        topics=tuple(Topic),
        bootstrap_servers=platform.kafka_bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
    )
    for counted in (MessageReceived, MessageStatusChanged, ConsentOptedOut, UsageRecorded):
        consumer.on(counted, count)
    consumer.on(ContactUpserted, count_new_contact)
    return consumer


async def run() -> None:
    platform = PlatformSettings()
    settings = MetricsSettings()
    configure_logging("metrics", platform)
    configure_tracing("metrics", platform)
    db = Database(
        platform.database_url,
        pool_size=platform.database_pool_size,
        application_name="metrics-worker",
    )
    # Only dead letters are produced: metrics publishes no events of its own.
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="metrics")
    await producer.start()
    try:
        await serve_worker(
            port=settings.worker_port,
            loops={"rollup-consumer": rollup_consumer(platform, db, producer).run()},
            readiness={"database": database_check(db), "kafka": kafka_check(producer)},
        )
    finally:
        await producer.stop()
        await db.dispose()
