"""Which events travel on which topic, and how to read one back from bytes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from switchboard.contracts.events import (
    ApiKeyChanged,
    BudgetThresholdReached,
    BusinessEventReceived,
    ConsentOptedIn,
    ConsentOptedOut,
    ContactDeleted,
    ContactUpserted,
    ConversationHandedBack,
    ConversationHandedOver,
    EnrollmentEnded,
    EnrollmentStarted,
    EntitlementChanged,
    MessageReceived,
    MessageRequested,
    MessageStatusChanged,
    TenantUpserted,
    UsageRecorded,
)
from switchboard.contracts.topics import Topic, contact_key, tenant_key

AnyEvent = Annotated[
    MessageReceived
    | MessageRequested
    | MessageStatusChanged
    | ConsentOptedOut
    | ConsentOptedIn
    | ContactUpserted
    | ContactDeleted
    | UsageRecorded
    | EntitlementChanged
    | TenantUpserted
    | ApiKeyChanged
    | EnrollmentStarted
    | EnrollmentEnded
    | ConversationHandedOver
    | ConversationHandedBack
    | BusinessEventReceived
    | BudgetThresholdReached,
    Field(discriminator="type"),
]

TOPIC_EVENTS: dict[Topic, tuple[type[AnyEvent], ...]] = {
    Topic.MESSAGES_INBOUND: (MessageReceived,),
    Topic.MESSAGES_OUTBOUND: (MessageRequested,),
    Topic.MESSAGES_STATUS: (MessageStatusChanged,),
    Topic.CONSENT: (ConsentOptedOut, ConsentOptedIn),
    Topic.CONTACTS: (ContactUpserted, ContactDeleted),
    Topic.USAGE: (UsageRecorded,),
    Topic.ENTITLEMENTS: (EntitlementChanged,),
    Topic.TENANTS: (TenantUpserted, ApiKeyChanged),
    Topic.CAMPAIGNS: (EnrollmentStarted, EnrollmentEnded),
    Topic.CONVERSATIONS: (ConversationHandedOver, ConversationHandedBack),
    Topic.EVENTS: (BusinessEventReceived,),
    Topic.BILLING: (BudgetThresholdReached,),
}

_adapter: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


class UnknownEventError(ValueError):
    """The bytes are not a valid event of any known type and version."""


def parse_event(raw: bytes | str) -> AnyEvent:
    """Read an event from its JSON form; raises `UnknownEventError` when it is not one."""
    try:
        return _adapter.validate_json(raw)
    except ValueError as exc:
        raise UnknownEventError(str(exc)) from exc


def partition_key(event: AnyEvent) -> bytes:
    """The key an event is published with: a contact's events share a partition, in order."""
    match event:
        case MessageReceived(data=data):
            return contact_key(event.tenant_id, data.from_address)
        case MessageRequested(data=data) | MessageStatusChanged(data=data):
            return contact_key(event.tenant_id, data.to_address)
        case ConsentOptedOut(data=data) | ConsentOptedIn(data=data) | ContactUpserted(data=data):
            return contact_key(event.tenant_id, data.address)
        case ApiKeyChanged(data=data):
            return f"apikey:{data.key_id}".encode()
        case TenantUpserted():
            return f"tenant:{event.tenant_id}".encode()
    return tenant_key(event.tenant_id)


def topic_of(event: AnyEvent) -> Topic:
    """The one topic an event type is published on."""
    for topic, kinds in TOPIC_EVENTS.items():
        if isinstance(event, kinds):
            return topic
    raise UnknownEventError(f"no topic carries {event.type!r}")
