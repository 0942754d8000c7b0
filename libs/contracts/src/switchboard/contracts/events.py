"""Every event Switchboard services exchange, one model per `type`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from switchboard.contracts.envelope import Contract, Event

Channel = Literal["sms", "whatsapp"]
Provider = Literal["twilio", "meta", "sandbox"]
Origin = Literal["reply", "campaign", "operator", "system"]
Priority = Literal["reply", "bulk"]
DeliveryStatus = Literal[
    "queued", "sending", "sent", "delivered", "read", "undelivered", "failed", "refused"
]
# Delivery statuses only move forward: a higher rank replaces a lower one, never the reverse
# (so a late `sent` never overwrites `delivered`, and `read` outranks `delivered`).
DELIVERY_RANK: dict[str, int] = {
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "failed": 3,
    "undelivered": 3,
    "refused": 3,
    "delivered": 4,
    "read": 5,
}


def is_forward(current: str | None, new: str) -> bool:
    """Whether a message at status `current` (None: not yet known) should move to `new`."""
    return DELIVERY_RANK[new] > DELIVERY_RANK.get(current or "", -1)


ConsentSource = Literal["keyword", "operator", "api", "carrier"]
Keyword = Literal["opt_out", "opt_in", "help"]
LlmPurpose = Literal["chat", "summary", "moderation", "composition"]
UsageKind = Literal["llm_tokens", "sms_segments", "whatsapp_conversations"]
Scope = Literal["platform:admin", "tenant:admin", "messages:read", "messages:write"]


# messages.inbound ----------------------------------------------------------------------------


class Media(Contract):
    url: str
    content_type: str | None = None
    provider_media_id: str | None = Field(
        default=None, description="The provider's id of the media (WhatsApp Cloud media id)."
    )
    caption: str | None = None


class InteractiveReply(Contract):
    """A tap on a WhatsApp button or list row: the choice, as the business defined it."""

    kind: Literal["button_reply", "list_reply", "button"]
    id: str = Field(description="The id (or payload) the business gave the button or row.")
    title: str
    description: str | None = None


class MessageReceivedData(Contract):
    message_id: UUID
    channel: Channel
    provider: Provider
    provider_message_id: str
    from_address: str = Field(description="The contact's address, E.164.")
    to_address: str = Field(description="The tenant's sender number, E.164.")
    body: str
    media: tuple[Media, ...] = ()
    interactive: InteractiveReply | None = None
    received_at: datetime
    keyword: Keyword | None = Field(
        default=None,
        description="A compliance keyword (STOP, START, HELP...) the gateway already answered; "
        "nobody else replies to such a message.",
    )


class MessageReceived(Event):
    """A contact's message reached one of the tenant's numbers."""

    type: Literal["message.received"] = "message.received"
    data: MessageReceivedData


# messages.outbound ---------------------------------------------------------------------------


class MessageTemplate(Contract):
    """A pre-approved WhatsApp template: the only message allowed outside the 24-hour window."""

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15, description="Template language, e.g. en_US.")
    parameters: tuple[str, ...] = Field(
        default=(), description="Values of the body's {{1}}, {{2}}... in order."
    )
    components: tuple[dict[str, Any], ...] | None = Field(
        default=None,
        description="Graph API `components` as is (header, buttons); replaces `parameters`.",
    )
    content_sid: str | None = Field(
        default=None,
        pattern=r"^HX[0-9a-fA-F]{32}$",
        description="The template's Twilio Content SID: needed to send it from a Twilio number.",
    )


class MessageRequestedData(Contract):
    idempotency_key: str = Field(min_length=1, max_length=200)
    origin: Origin
    priority: Priority = "bulk"
    channel: Channel
    to_address: str
    from_address: str | None = Field(
        default=None, description="Sender number; the gateway picks the tenant's default if absent."
    )
    body: str
    template: MessageTemplate | None = Field(
        default=None, description="Send this WhatsApp template instead of free-form `body`."
    )
    not_before: datetime | None = None
    expires_at: datetime | None = None
    conversation_id: UUID | None = None
    in_reply_to: UUID | None = Field(default=None, description="Inbound message answered.")
    campaign_id: UUID | None = Field(
        default=None, description="The campaign that sent it, for its costs' attribution."
    )


class MessageRequested(Event):
    """Someone (assistant, campaign, operator, system) asks the gateway to send a message."""

    type: Literal["message.requested"] = "message.requested"
    data: MessageRequestedData


# messages.status -----------------------------------------------------------------------------


class MessageStatusChangedData(Contract):
    message_id: UUID
    idempotency_key: str
    origin: Origin
    channel: Channel
    to_address: str
    status: DeliveryStatus
    provider: Provider | None = None
    provider_message_id: str | None = None
    segments: int | None = None
    price: Decimal | None = None
    currency: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    campaign_id: UUID | None = Field(
        default=None, description="The campaign that sent it (as its `message.requested` said)."
    )


class MessageStatusChanged(Event):
    """An outbound message moved forward in its delivery state machine."""

    type: Literal["message.status_changed"] = "message.status_changed"
    data: MessageStatusChangedData


# consent -------------------------------------------------------------------------------------


class ConsentData(Contract):
    address: str
    channel: Channel
    source: ConsentSource
    keyword: str | None = None


class ConsentOptedOut(Event):
    type: Literal["consent.opted_out"] = "consent.opted_out"
    data: ConsentData


class ConsentOptedIn(Event):
    type: Literal["consent.opted_in"] = "consent.opted_in"
    data: ConsentData


# contacts (compacted) ------------------------------------------------------------------------


class ContactData(Contract):
    contact_id: UUID
    address: str
    display_name: str | None = None
    time_zone: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    blocked: bool = False
    persona: str | None = Field(default=None, description="The assistant persona they chose.")
    language: str | None = Field(default=None, description="The language replies are in.")


class ContactUpserted(Event):
    type: Literal["contact.upserted"] = "contact.upserted"
    data: ContactData


class ContactDeletedData(Contract):
    contact_id: UUID


class ContactDeleted(Event):
    type: Literal["contact.deleted"] = "contact.deleted"
    data: ContactDeletedData


# usage ---------------------------------------------------------------------------------------


class UsageRecordedData(Contract):
    kind: UsageKind
    quantity: int = Field(ge=0)
    cost: Decimal = Field(ge=0)
    currency: str = "USD"
    source_id: str = Field(description="What incurred it: a message id or an LLM call id.")
    contact_address: str | None = None
    channel: Channel | None = None
    provider: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int | None = Field(default=None, description="How long the model call took.")
    purpose: LlmPurpose | None = Field(
        default=None, description="What a model call was for (chat reply, summary...)."
    )
    campaign_id: UUID | None = Field(
        default=None, description="The campaign the unit was consumed for (its AI agent's calls)."
    )


class UsageRecorded(Event):
    """A billable unit was consumed."""

    type: Literal["usage.recorded"] = "usage.recorded"
    data: UsageRecordedData


# entitlements (compacted) --------------------------------------------------------------------


class EntitlementData(Contract):
    plan: str
    state: Literal["active", "grace", "suspended"]
    contact_address: str | None = None
    limits: dict[str, int] = Field(default_factory=dict)
    remaining: dict[str, int] = Field(default_factory=dict)


class EntitlementChanged(Event):
    type: Literal["entitlement.changed"] = "entitlement.changed"
    data: EntitlementData


# billing -------------------------------------------------------------------------------------


class BudgetThresholdData(Contract):
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="The calendar month (UTC), YYYY-MM.")
    threshold_percent: int = Field(ge=1, description="The threshold crossed, in % of the budget.")
    budget: Decimal = Field(ge=0)
    spent: Decimal = Field(ge=0, description="What the month's usage cost so far.")
    currency: str = "USD"


class BudgetThresholdReached(Event):
    """A tenant's spending this month crossed one of its budget's thresholds (once each)."""

    type: Literal["billing.budget_threshold_reached"] = "billing.budget_threshold_reached"
    data: BudgetThresholdData


# tenants (compacted) -------------------------------------------------------------------------


class TenantData(Contract):
    name: str
    active: bool = True


class TenantUpserted(Event):
    type: Literal["tenant.upserted"] = "tenant.upserted"
    data: TenantData


class ApiKeyData(Contract):
    key_id: str
    secret_hash: str = Field(description="SHA-256 of the key's secret, hex.")
    scopes: tuple[Scope, ...]
    revoked: bool = False


class ApiKeyChanged(Event):
    """An API key was issued or revoked; every service's auth replica follows it."""

    type: Literal["api_key.changed"] = "api_key.changed"
    data: ApiKeyData


# conversations -------------------------------------------------------------------------------


class ConversationHandoffData(Contract):
    conversation_id: UUID
    contact_address: str
    channel: Channel
    by: Literal["assistant", "operator"] = Field(
        description="Who moved it: the assistant's rules (a request for a person, a flagged "
        "message) or an operator through the API."
    )
    reason: str | None = Field(default=None, description="Why it was handed over.")


class ConversationHandedOver(Event):
    """A person answers this conversation from now on; the assistant stays silent."""

    type: Literal["conversation.handed_over"] = "conversation.handed_over"
    data: ConversationHandoffData


class ConversationHandedBack(Event):
    """The assistant answers this conversation again."""

    type: Literal["conversation.handed_back"] = "conversation.handed_back"
    data: ConversationHandoffData


# events --------------------------------------------------------------------------------------


class BusinessEventData(Contract):
    """Something that happened in a tenant's systems, as the events API stored it."""

    business_event_id: UUID = Field(description="The stored event's id (`GET /v1/events/{id}`).")
    type: str = Field(description="What happened, e.g. `order.shipped`.")
    contact_address: str | None = None
    external_contact_id: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime


class BusinessEventReceived(Event):
    """A tenant's system reported an event (`POST /v1/events`), taken once per idempotency key."""

    type: Literal["business_event.received"] = "business_event.received"
    data: BusinessEventData


# campaigns -----------------------------------------------------------------------------------


class EnrollmentData(Contract):
    campaign_id: UUID
    enrollment_id: UUID
    contact_address: str
    reason: str | None = None


class EnrollmentStarted(Event):
    type: Literal["campaign.enrollment_started"] = "campaign.enrollment_started"
    data: EnrollmentData


class EnrollmentEnded(Event):
    type: Literal["campaign.enrollment_ended"] = "campaign.enrollment_ended"
    data: EnrollmentData
