"""Billing's worker: usage and delivery statuses become ledger rows; relays its outbox."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from switchboard.billing.config import BillingSettings
from switchboard.billing.models import inbox, outbox
from switchboard.billing.usage.rates import RateCard
from switchboard.billing.usage.tasks import LedgerFeed
from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import EventConsumer, create_producer
from switchboard.common.outbox import OutboxRelay
from switchboard.common.runtime import database_check, kafka_check, serve_worker
from switchboard.common.settings import PlatformSettings
from switchboard.common.telemetry import configure_logging, configure_tracing
from switchboard.contracts import MessageStatusChanged, Topic, UsageRecorded


def usage_consumer(
    platform: PlatformSettings, settings: BillingSettings, db: Database, producer: AIOKafkaProducer
) -> EventConsumer:
    """The `billing` consumer group on `usage` and `messages.status`."""
    feed = LedgerFeed(RateCard(settings.sms_segment_price, settings.rate_card_currency))
    consumer = EventConsumer(
        name="billing",
        topics=(Topic.USAGE, Topic.MESSAGES_STATUS),
        bootstrap_servers=platform.kafka_bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
    )
    consumer.on(UsageRecorded, feed.on_usage_recorded)
    consumer.on(MessageStatusChanged, feed.on_message_status_changed)
    return consumer


async def run() -> None:
    platform = PlatformSettings()
    settings = BillingSettings()
    configure_logging("billing", platform)
    configure_tracing("billing", platform)
    db = Database(
        platform.database_url,
        pool_size=platform.database_pool_size,
        application_name="billing-worker",
    )
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="billing")
    await producer.start()
    try:
        await serve_worker(
            port=settings.worker_port,
            loops={
                "usage-consumer": usage_consumer(platform, settings, db, producer).run(),
                "outbox-relay": OutboxRelay(db, producer, outbox).run(),
            },
            readiness={"database": database_check(db), "kafka": kafka_check(producer)},
        )
    finally:
        await producer.stop()
        await db.dispose()
