from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class TurnRead(BaseModel):
    id: UUID
    role: str = Field(description="`user` (the contact) or `assistant`.")
    body: str
    message_id: UUID | None = Field(description="The inbound message, for user turns.")
    idempotency_key: str | None = Field(description="The requested send, for assistant turns.")
    provider: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    delivery_status: str | None = Field(description="How far the assistant's reply got.")
    created_at: datetime


class ConversationRead(BaseModel):
    id: UUID
    contact_id: UUID
    channel: str
    sender_address: str = Field(description="The tenant's number the contact wrote to.")
    status: str
    created_at: datetime
    last_message_at: datetime


class ConversationDetail(ConversationRead):
    turns: list[TurnRead] = Field(description="The transcript, oldest turn first.")
