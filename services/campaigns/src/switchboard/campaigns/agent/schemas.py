"""The agent's decisions as the API shows them, and an operator's review."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from switchboard.campaigns.agent.compose import MAX_MESSAGE_LENGTH, Compose

DecisionStatus = Literal[
    "pending",
    "deciding",
    "decided",
    "awaiting_approval",
    "approved",
    "rejected",
    "failed",
    "cancelled",
]
Action = Literal["SEND", "SKIP", "DELAY"]


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    status: DecisionStatus = Field(
        description="pending or deciding (the agent is on it), decided, awaiting_approval (then "
        "approved or rejected), failed (no valid answer from the model), or cancelled (the "
        "contact left the campaign first)."
    )
    action: Action | None = Field(description="What the agent decided.")
    message: str | None = Field(description="The message decided (as approved, if edited).")
    proposed_message: str | None = Field(
        description="The agent's own message, when an operator edited it."
    )
    reasoning: str | None = Field(description="The agent's reasons, for audit.")
    confidence: float | None
    delay_minutes: int | None
    outcome: str | None = Field(
        description="What came of it after the checks: scheduled (held for quiet hours, if "
        "so), skipped and why (opted out, frequency cap...), delayed, awaiting approval.",
        examples=["scheduled, held for quiet hours until 08:00 America/New_York"],
    )
    send_id: UUID | None = Field(description="The scheduled send it made, if any.")
    to_address: str
    contact_id: UUID | None
    channel: str
    rule_id: UUID | None
    rule_version: int | None
    event_id: UUID | None
    campaign_id: UUID | None
    enrollment_id: UUID | None
    step: int | None
    compose: Compose = Field(description="The instructions it followed, as they were then.")
    tool_calls: list[dict[str, Any]] = Field(
        description="The tools the agent used, with their arguments, in order."
    )
    previous_id: UUID | None = Field(description="The decision that DELAYed to this one.")
    attempts: int
    error: str | None = Field(description="Why the last attempt gave no decision.")
    provider: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    cost: Decimal = Field(description="USD, every model call of the decision together.")
    latency_ms: int | None
    reviewed_by: str | None = Field(description="The API key that approved or rejected it.")
    review_note: str | None
    reviewed_at: datetime | None
    due_at: datetime = Field(description="When the agent is (or was) asked.")
    created_at: datetime
    decided_at: datetime | None


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MESSAGE_LENGTH,
        description="The message as edited; leave out to send the agent's own. At most the "
        "rule's or step's `max_length`.",
    )
    note: str | None = Field(default=None, max_length=500)


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)
