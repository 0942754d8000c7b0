"""Events partners can subscribe to become deliveries, in the transaction that consumes them."""

from __future__ import annotations

from switchboard.common.inbox import Inbox
from switchboard.common.kafka import Delivery, EventConsumer
from switchboard.common.runtime import Worker
from switchboard.contracts import (
    BudgetThresholdReached,
    ConsentOptedIn,
    ConsentOptedOut,
    ConversationHandedBack,
    ConversationHandedOver,
    EnrollmentEnded,
    EnrollmentStarted,
    Event,
    MessageReceived,
    MessageStatusChanged,
    Topic,
)
from switchboard.gateway.models import inbox
from switchboard.gateway.partners.service import partner_webhooks

PARTNER_EVENTS: tuple[type[Event], ...] = (
    MessageReceived,
    MessageStatusChanged,
    ConsentOptedOut,
    ConsentOptedIn,
    EnrollmentStarted,
    EnrollmentEnded,
    ConversationHandedOver,
    ConversationHandedBack,
    BudgetThresholdReached,
)


async def on_partner_event(event: Event, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await partner_webhooks.fan_out(
            session,
            event.tenant_id,
            event.event_id,
            event.type,
            event.occurred_at,
            event.data.model_dump(mode="json"),
        )


def partner_events_consumer(worker: Worker) -> EventConsumer:
    """The `gateway-partner-webhooks` group: one delivery per event and subscribed endpoint."""
    consumer = EventConsumer(
        name="gateway-partner-webhooks",
        topics=(
            Topic.MESSAGES_INBOUND,
            Topic.MESSAGES_STATUS,
            Topic.CONSENT,
            Topic.CAMPAIGNS,
            Topic.CONVERSATIONS,
            Topic.BILLING,
        ),
        bootstrap_servers=worker.platform.kafka_bootstrap_servers,
        db=worker.db,
        inbox=Inbox(inbox),
        producer=worker.producer,
    )
    for event_type in PARTNER_EVENTS:
        consumer.on(event_type, on_partner_event)
    return consumer
