"""The campaigns worker: keeps the contacts replica current, plans the sends business events
cause, sends them when due, follows their delivery, and relays the outbox."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from switchboard.campaigns.config import CampaignsSettings
from switchboard.campaigns.contacts.service import contact_replica
from switchboard.campaigns.models import inbox, outbox
from switchboard.campaigns.schedule.clock import Clock, SystemClock
from switchboard.campaigns.schedule.delivery import record_status
from switchboard.campaigns.schedule.planner import RulePlanner
from switchboard.campaigns.schedule.scheduler import Scheduler
from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import Delivery, EventConsumer
from switchboard.common.runtime import Loops, Worker, run_worker
from switchboard.contracts import (
    BusinessEventReceived,
    ContactDeleted,
    ContactUpserted,
    MessageStatusChanged,
    Topic,
)

CONSUMER_GROUP = "campaigns"


async def on_contact_upserted(event: ContactUpserted, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await contact_replica.upsert(
            session, event.tenant_id, event.data, changed_at=event.occurred_at
        )


async def on_contact_deleted(event: ContactDeleted, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await contact_replica.delete(session, event.tenant_id, event.data.contact_id)


async def on_status_changed(event: MessageStatusChanged, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await record_status(session, event.tenant_id, event.data)


def contacts_consumer(
    db: Database, producer: AIOKafkaProducer, bootstrap_servers: str
) -> EventConsumer:
    """The `campaigns` consumer group on `contacts`, feeding the contacts replica."""
    consumer = EventConsumer(
        name=CONSUMER_GROUP,
        topics=(Topic.CONTACTS,),
        bootstrap_servers=bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
    )
    consumer.on(ContactUpserted, on_contact_upserted)
    consumer.on(ContactDeleted, on_contact_deleted)
    return consumer


def events_consumer(
    db: Database, producer: AIOKafkaProducer, bootstrap_servers: str, clock: Clock
) -> EventConsumer:
    """The `campaigns-events` group: business events to planned sends, and the gateway's
    statuses to the sends they are about."""
    planner = RulePlanner(clock)

    async def on_business_event(event: BusinessEventReceived, delivery: Delivery) -> None:
        async with delivery.transaction() as session:
            await planner.plan(session, event)

    consumer = EventConsumer(
        name=f"{CONSUMER_GROUP}-events",
        topics=(Topic.EVENTS, Topic.MESSAGES_STATUS),
        bootstrap_servers=bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
    )
    consumer.on(BusinessEventReceived, on_business_event)
    consumer.on(MessageStatusChanged, on_status_changed)
    return consumer


async def run() -> None:
    async def loops(worker: Worker) -> Loops:
        bootstrap = worker.platform.kafka_bootstrap_servers
        clock = SystemClock()
        return {
            "contacts-consumer": contacts_consumer(worker.db, worker.producer, bootstrap).run(),
            "events-consumer": events_consumer(worker.db, worker.producer, bootstrap, clock).run(),
            "scheduler": Scheduler(worker.db, clock).run(),
        }

    await run_worker("campaigns", CampaignsSettings(), loops, outbox=outbox)
