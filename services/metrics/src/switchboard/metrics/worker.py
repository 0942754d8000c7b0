"""Metrics' worker: reads every topic and adds what each event counts to the hourly rollups."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import EventConsumer
from switchboard.common.runtime import Loops, Worker, run_worker
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import (
    ConsentOptedOut,
    ContactUpserted,
    MessageReceived,
    MessageStatusChanged,
    Topic,
    UsageRecorded,
)
from switchboard.metrics.analytics.tasks import count_batch
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
    # A batch's increments are merged and written once, rows in key order: every event adds to
    # the same few per-tenant, per-hour rows, which per-event writes would queue on.
    consumer.on_batch(
        count_batch,
        MessageReceived,
        MessageStatusChanged,
        ConsentOptedOut,
        UsageRecorded,
        ContactUpserted,
    )
    return consumer


async def run() -> None:
    async def loops(worker: Worker) -> Loops:
        consumer = rollup_consumer(worker.platform, worker.db, worker.producer)
        return {"rollup-consumer": consumer.run()}

    await run_worker("metrics", MetricsSettings(), loops, outbox=None)
