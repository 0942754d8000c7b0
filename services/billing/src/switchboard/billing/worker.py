"""Billing's worker: usage and delivery statuses become ledger rows and quota counts; quotas
reset with their periods; subscribers whose grace period ran out are suspended; messages beyond a
plan's allowance are reported to Stripe's meter; relays its outbox (the entitlements)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from switchboard.billing.config import BillingSettings
from switchboard.billing.models import inbox, outbox
from switchboard.billing.payments.dunning import Dunning
from switchboard.billing.payments.metering import UsageReporter
from switchboard.billing.payments.stripe_api import StripeGateway
from switchboard.billing.quotas.resets import QuotaResets
from switchboard.billing.usage.rates import RateCard
from switchboard.billing.usage.tasks import LedgerFeed, utc_now
from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import EventConsumer
from switchboard.common.runtime import Loops, Worker, run_worker
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import MessageStatusChanged, Topic, UsageRecorded


def usage_consumer(
    platform: PlatformSettings, settings: BillingSettings, db: Database, producer: AIOKafkaProducer
) -> EventConsumer:
    """The `billing` consumer group on `usage` and `messages.status`, a partition's batch at a
    time (`usage/tasks.py`)."""
    feed = LedgerFeed(RateCard(settings.sms_segment_price, settings.rate_card_currency))
    consumer = EventConsumer(
        name="billing",
        topics=(Topic.USAGE, Topic.MESSAGES_STATUS),
        bootstrap_servers=platform.kafka_bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
    )
    consumer.on_batch(feed.on_batch, UsageRecorded, MessageStatusChanged)
    return consumer


async def run() -> None:
    settings = BillingSettings()

    async def loops(worker: Worker) -> Loops:
        consumer = usage_consumer(worker.platform, settings, worker.db, worker.producer)
        loops: Loops = {
            "usage-consumer": consumer.run(),
            "quota-resets": QuotaResets(worker.db, utc_now).run(),
            "dunning": Dunning(worker.db, utc_now).run(),
        }
        if settings.stripe_api_key is not None:
            gateway = StripeGateway(
                settings.stripe_api_key.get_secret_value(), api_base=settings.stripe_api_base
            )
            reporter = UsageReporter(worker.db, gateway, settings.stripe_meter_event, utc_now)
            loops["usage-reports"] = reporter.run()
        return loops

    await run_worker("billing", settings, loops, outbox=outbox)
