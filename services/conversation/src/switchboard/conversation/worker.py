"""The conversation worker: answers inbound messages, follows their delivery, relays events."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from aiokafka import AIOKafkaProducer

from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import Delivery, EventConsumer
from switchboard.common.outbox import OutboxRelay
from switchboard.common.runtime import Loops, Worker, run_worker
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import EntitlementChanged, MessageReceived, MessageStatusChanged, Topic
from switchboard.conversation.assistant.service import Assistant
from switchboard.conversation.config import ConversationSettings
from switchboard.conversation.conversations.delivery import DeliveryStatuses
from switchboard.conversation.entitlements import entitlement_service
from switchboard.conversation.models import inbox, outbox
from switchboard.conversation.moderation.routing import create_moderation_router
from switchboard.llm import PriceTable, create_provider, create_providers
from switchboard.llm.routing import ModelRouter

CONSUMER_GROUP = "conversation"


async def on_entitlement(event: EntitlementChanged, delivery: Delivery) -> None:
    """Keep billing's latest word per tenant (and contact): the assistant reads it locally."""
    async with delivery.transaction() as session:
        await entitlement_service.apply(session, event)


def create_router(settings: ConversationSettings) -> ModelRouter:
    """Every configured provider, routed per purpose; refuses to start if a model it may use
    has no price (its usage could not be costed)."""
    if settings.llm_chain:
        providers = create_providers(settings.llm_chain)
    else:
        providers = [create_provider(settings.llm_provider)]
    prices = PriceTable(settings.llm_prices)
    for provider in providers:
        prices.require(provider.model)
    return ModelRouter(
        providers,
        settings.llm_routes,
        retries=settings.llm_retries,
        backoff=settings.llm_backoff_seconds,
        breaker_failures=settings.llm_breaker_failures,
        breaker_cooldown=settings.llm_breaker_cooldown_seconds,
    )


def create_assistant(settings: ConversationSettings, db: Database) -> Assistant:
    router = create_router(settings)
    return Assistant(
        db,
        router,
        PriceTable(settings.llm_prices),
        create_moderation_router(settings.llm_chain, settings.llm_routes.get("moderation", ())),
        context_turns=settings.context_turns,
        memory_token_budget=settings.memory_token_budget,
        max_output_tokens=settings.llm_max_output_tokens,
        tenant_cache_seconds=settings.tenant_cache_seconds,
    )


def create_consumer(
    platform: PlatformSettings,
    settings: ConversationSettings,
    db: Database,
    producer: AIOKafkaProducer,
) -> EventConsumer:
    """The `conversation` consumer group on inbound messages and delivery statuses."""
    consumer = EventConsumer(
        name=CONSUMER_GROUP,
        topics=(Topic.MESSAGES_INBOUND, Topic.MESSAGES_STATUS, Topic.ENTITLEMENTS),
        bootstrap_servers=platform.kafka_bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
        # The assistant calls the model before its transaction: one transaction per message,
        # and contacts concurrently (one contact's messages in order) while the model thinks.
        batch_transactions=False,
        concurrent_keys=True,
    )
    statuses = DeliveryStatuses(db)

    async def on_status_changed(event: MessageStatusChanged, delivery: Delivery) -> None:
        """Follow the delivery of the replies in transcripts; campaigns' statuses are not ours."""
        if event.data.origin in ("reply", "operator"):
            await statuses.record(event, delivery)

    consumer.on(MessageReceived, create_assistant(settings, db).answer)
    consumer.on(MessageStatusChanged, on_status_changed)
    consumer.on(EntitlementChanged, on_entitlement)
    return consumer


def worker_loops(
    platform: PlatformSettings,
    settings: ConversationSettings,
    db: Database,
    producer: AIOKafkaProducer,
) -> dict[str, Coroutine[Any, Any, None]]:
    """Everything the worker runs: the consumer and the outbox relay."""
    return {
        "conversation-consumer": create_consumer(platform, settings, db, producer).run(),
        "outbox-relay": OutboxRelay(db, producer, outbox).run(),
    }


async def run() -> None:
    settings = ConversationSettings()

    async def loops(worker: Worker) -> Loops:
        consumer = create_consumer(worker.platform, settings, worker.db, worker.producer)
        return {"conversation-consumer": consumer.run()}

    await run_worker("conversation", settings, loops, outbox=outbox)
