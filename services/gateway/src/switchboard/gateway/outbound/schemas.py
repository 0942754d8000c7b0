from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class MessageSend(BaseModel):
    to: str = Field(description="Recipient in E.164.")
    body: str = Field(min_length=1, max_length=1600)
    from_: str | None = Field(
        default=None, alias="from", description="Sender number; default: the tenant's first."
    )
    channel: Literal["sms"] = "sms"
    idempotency_key: str | None = Field(default=None, max_length=200)


class MessageQuery(BaseModel):
    """Filters of the messages list; every one is optional and they combine with AND."""

    direction: Literal["inbound", "outbound"] | None = None
    channel: Literal["sms", "whatsapp"] | None = None
    contact: str | None = Field(
        default=None, description="The contact's address (E.164): who a message was to or from."
    )
    status: str | None = Field(
        default=None, description="Delivery status (`received` for inbound messages)."
    )
    origin: Literal["reply", "campaign", "operator", "system"] | None = None
    after: datetime | None = None
    before: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)


class StatusRead(BaseModel):
    status: str
    source: str
    detail: dict[str, object]
    recorded_at: datetime


class MessageRead(BaseModel):
    id: UUID
    direction: Literal["inbound", "outbound"]
    channel: str
    from_address: str
    to_address: str
    body: str
    status: str
    origin: str | None = None
    provider_message_id: str | None = None
    segments: int | None = None
    price: Decimal | None = None
    error_code: str | None = None
    created_at: datetime


class MessageDetail(MessageRead):
    history: list[StatusRead] = []
