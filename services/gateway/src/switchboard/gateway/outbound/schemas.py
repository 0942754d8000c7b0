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
