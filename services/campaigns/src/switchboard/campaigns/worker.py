"""The campaigns worker: keeps the contacts and entitlements replicas current, turns business
events into enrollments and planned sends, moves journeys along, sends what is due, follows
delivery, replies and opt-outs, and relays the outbox."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from switchboard.campaigns.agent.agent import Agent
from switchboard.campaigns.agent.runner import AgentRunner
from switchboard.campaigns.agent.service import remember
from switchboard.campaigns.config import CampaignsSettings
from switchboard.campaigns.contacts.service import contact_replica
from switchboard.campaigns.entitlements import apply as apply_entitlement
from switchboard.campaigns.journeys.reactions import on_opt_in, on_opt_out, on_reply
from switchboard.campaigns.journeys.runner import JourneyRunner
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
    ConsentOptedIn,
    ConsentOptedOut,
    ContactDeleted,
    ContactUpserted,
    EntitlementChanged,
    MessageReceived,
    MessageStatusChanged,
    Topic,
)
from switchboard.llm import FallbackChain, PriceTable, ProviderConfig, create_providers

CONSUMER_GROUP = "campaigns"


async def on_contact_upserted(event: ContactUpserted, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await contact_replica.upsert(
            session, event.tenant_id, event.data, changed_at=event.occurred_at
        )


async def on_contact_deleted(event: ContactDeleted, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await contact_replica.delete(session, event.tenant_id, event.data.contact_id)


async def on_entitlement(event: EntitlementChanged, delivery: Delivery) -> None:
    """Keep billing's latest word per tenant (and contact): sends are checked against it."""
    async with delivery.transaction() as session:
        await apply_entitlement(session, event)


async def on_status_changed(event: MessageStatusChanged, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await record_status(session, event.tenant_id, event.data)


def contacts_consumer(
    db: Database, producer: AIOKafkaProducer, bootstrap_servers: str
) -> EventConsumer:
    """The `campaigns` consumer group on `contacts` and `entitlements`, feeding the contacts and
    entitlements replicas.

    Both topics are compacted replicas of another service's state, read from their beginning,
    few and small: billing's word (`entitlements.py`) is kept here, not in `campaigns-events`,
    so a quota that runs out does not wait behind a backlog of business events and statuses.
    """
    consumer = EventConsumer(
        name=CONSUMER_GROUP,
        topics=(Topic.CONTACTS, Topic.ENTITLEMENTS),
        bootstrap_servers=bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
    )
    consumer.on(ContactUpserted, on_contact_upserted)
    consumer.on(ContactDeleted, on_contact_deleted)
    consumer.on(EntitlementChanged, on_entitlement)
    return consumer


def events_consumer(
    db: Database, producer: AIOKafkaProducer, bootstrap_servers: str, clock: Clock
) -> EventConsumer:
    """The `campaigns-events` group: business events to enrollments and planned sends, the
    gateway's statuses to the sends they are about, contacts' replies and opt-outs to their
    journeys."""
    planner = RulePlanner(clock)

    async def on_business_event(event: BusinessEventReceived, delivery: Delivery) -> None:
        async with delivery.transaction() as session:
            await planner.plan(session, event)

    async def on_message(event: MessageReceived, delivery: Delivery) -> None:
        message = event.data
        if message.keyword is not None:  # STOP, HELP, START: the gateway's, and consent's
            return
        async with delivery.transaction() as session:
            await remember(session, event.tenant_id, message)
            await on_reply(
                session, event.tenant_id, message.from_address, message.body, clock.now()
            )

    async def on_opted_out(event: ConsentOptedOut, delivery: Delivery) -> None:
        async with delivery.transaction() as session:
            await on_opt_out(
                session, event.tenant_id, event.data.address, event.occurred_at, clock.now()
            )

    async def on_opted_in(event: ConsentOptedIn, delivery: Delivery) -> None:
        async with delivery.transaction() as session:
            await on_opt_in(session, event.tenant_id, event.data.address, event.occurred_at)

    consumer = EventConsumer(
        name=f"{CONSUMER_GROUP}-events",
        topics=(Topic.EVENTS, Topic.MESSAGES_STATUS, Topic.MESSAGES_INBOUND, Topic.CONSENT),
        bootstrap_servers=bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
    )
    consumer.on(BusinessEventReceived, on_business_event)
    consumer.on(MessageStatusChanged, on_status_changed)
    consumer.on(MessageReceived, on_message)
    consumer.on(ConsentOptedOut, on_opted_out)
    consumer.on(ConsentOptedIn, on_opted_in)
    return consumer


def create_agent_runner(settings: CampaignsSettings, db: Database, clock: Clock) -> AgentRunner:
    """The agent on the configured models (the offline provider when none is), every one priced."""
    providers = create_providers(settings.llm_chain or [ProviderConfig(provider="offline")])
    prices = PriceTable(settings.llm_prices)
    for provider in providers:
        prices.require(provider.model)
    chain = FallbackChain(
        providers, retries=settings.llm_retries, backoff=settings.llm_backoff_seconds
    )
    agent = Agent(chain, max_rounds=settings.agent_max_rounds)
    return AgentRunner(db, clock, agent, prices, concurrency=settings.agent_concurrency)


async def run() -> None:
    settings = CampaignsSettings()

    async def loops(worker: Worker) -> Loops:
        bootstrap = worker.platform.kafka_bootstrap_servers
        clock = SystemClock()
        return {
            "contacts-consumer": contacts_consumer(worker.db, worker.producer, bootstrap).run(),
            "events-consumer": events_consumer(worker.db, worker.producer, bootstrap, clock).run(),
            "scheduler": Scheduler(worker.db, clock).run(),
            "journeys": JourneyRunner(worker.db, clock).run(),
            "agent": create_agent_runner(settings, worker.db, clock).run(),
        }

    await run_worker("campaigns", settings, loops, outbox=outbox)
