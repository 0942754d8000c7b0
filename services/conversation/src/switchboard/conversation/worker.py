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
from switchboard.contracts import MessageReceived, MessageStatusChanged, Topic
from switchboard.conversation.assistant.service import Assistant
from switchboard.conversation.config import ConversationSettings
from switchboard.conversation.conversations.service import conversation_service
from switchboard.conversation.llm import PriceTable, create_chain, create_provider
from switchboard.conversation.models import inbox, outbox

CONSUMER_GROUP = "conversation"


async def on_status_changed(event: MessageStatusChanged, delivery: Delivery) -> None:
    """Follow the delivery of the assistant's replies; other senders' statuses are not ours."""
    if event.data.origin != "reply":
        return
    async with delivery.transaction() as session:
        await conversation_service.record_delivery(
            session, event.tenant_id, event.data.idempotency_key, event.data.status
        )


def create_assistant(settings: ConversationSettings, db: Database) -> Assistant:
    """The assistant with the configured provider or chain; refuses to start if a model it may
    use has no price."""
    if settings.llm_chain:
        provider = create_chain(settings.llm_chain)
        models = [config.model for config in settings.llm_chain]
    else:
        provider = create_provider(settings.llm_provider)
        models = [provider.model]
    prices = PriceTable(settings.llm_prices)
    for model in models:
        prices.require(model)
    return Assistant(
        db,
        provider,
        prices,
        instructions=settings.assistant_instructions,
        context_turns=settings.context_turns,
        max_output_tokens=settings.llm_max_output_tokens,
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
        topics=(Topic.MESSAGES_INBOUND, Topic.MESSAGES_STATUS),
        bootstrap_servers=platform.kafka_bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
        # The assistant calls the model before its transaction: one transaction per message,
        # and contacts concurrently (one contact's messages in order) while the model thinks.
        batch_transactions=False,
        concurrent_keys=True,
    )
    consumer.on(MessageReceived, create_assistant(settings, db).answer)
    consumer.on(MessageStatusChanged, on_status_changed)
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
