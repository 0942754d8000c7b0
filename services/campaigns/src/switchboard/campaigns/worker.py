"""The campaigns worker: keeps the contacts replica current and relays the outbox."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from switchboard.campaigns.config import CampaignsSettings
from switchboard.campaigns.contacts.service import contact_replica
from switchboard.campaigns.models import inbox, outbox
from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import Delivery, EventConsumer
from switchboard.common.runtime import Loops, Worker, run_worker
from switchboard.contracts import ContactDeleted, ContactUpserted, Topic

CONSUMER_GROUP = "campaigns"


async def on_contact_upserted(event: ContactUpserted, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await contact_replica.upsert(
            session, event.tenant_id, event.data, changed_at=event.occurred_at
        )


async def on_contact_deleted(event: ContactDeleted, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await contact_replica.delete(session, event.tenant_id, event.data.contact_id)


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


async def run() -> None:
    async def loops(worker: Worker) -> Loops:
        consumer = contacts_consumer(
            worker.db, worker.producer, worker.platform.kafka_bootstrap_servers
        )
        return {"contacts-consumer": consumer.run()}

    await run_worker("campaigns", CampaignsSettings(), loops, outbox=outbox)
