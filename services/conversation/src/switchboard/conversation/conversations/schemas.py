from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class TurnRead(BaseModel):
    id: UUID
    role: str = Field(
        description="`user` (the contact), `assistant` (the model), `operator` (a person) or "
        "`system` (an automatic reply: command answers, safe fallbacks, notices)."
    )
    body: str
    outcome: str | None = Field(
        description="For a contact's message, what it got: `answered`, `command`, `handoff`, "
        "`handed_over`, `blocked`, `ai_off`, `rate_limited`, `quota`, `flagged` or `failed`; "
        "`withheld` for a model reply that failed moderation and was never sent."
    )
    message_id: UUID | None = Field(description="The inbound message, for user turns.")
    idempotency_key: str | None = Field(description="The requested send, for replies.")
    provider: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost: Decimal | None = Field(description="USD for the model call behind this reply.")
    latency_ms: int | None = Field(description="How long the model took.")
    fallback: list[str] = Field(
        description="Why providers tried before the one that answered did not."
    )
    moderation: dict[str, Any] | None = Field(description="The verdict that stopped this turn.")
    author: str | None = Field(description="The operator who wrote it.")
    delivery_status: str | None = Field(description="How far the reply got.")
    created_at: datetime


class ConversationRead(BaseModel):
    id: UUID
    contact_id: UUID
    channel: str
    sender_address: str = Field(description="The tenant's number the contact wrote to.")
    status: str = Field(description="`open`, or `closed` once the contact said RESET.")
    handler: str = Field(description="`assistant`, or `human` while handed over.")
    handoff_reason: str | None
    handed_off_at: datetime | None
    needs_review: bool
    review_reason: str | None
    summary: str | None = Field(description="The rolling summary of older turns.")
    created_at: datetime
    last_message_at: datetime
    closed_at: datetime | None


class ConversationDetail(ConversationRead):
    turns: list[TurnRead] = Field(description="The transcript, oldest turn first.")


class HandoffCreate(BaseModel):
    reason: str = Field(default="an operator took over", min_length=1, max_length=500)


class OperatorReply(BaseModel):
    body: str = Field(min_length=1, max_length=1600)
    author: str | None = Field(
        default=None, max_length=200, description="Who is writing; default: the API key's id."
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=150,
        description="Retrying with the same key returns the first reply instead of a second.",
    )
