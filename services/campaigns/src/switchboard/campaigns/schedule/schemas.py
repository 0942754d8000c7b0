"""Scheduled sends as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

SendStatus = Literal["scheduled", "paused", "sent", "skipped", "cancelled"]
"""`paused`: its campaign is paused; it goes (in its window) when the campaign resumes."""


class ScheduledSendRead(BaseModel):
    id: UUID
    status: SendStatus
    reason: str | None = Field(description="Why it was held, skipped or cancelled.")
    to_address: str
    contact_id: UUID | None
    channel: str
    from_address: str | None
    body: str
    requested_at: datetime = Field(description="When its rule or step asked for it to go.")
    due_at: datetime = Field(description="When it may go: the request moved out of quiet hours.")
    time_zone: str = Field(description="The contact's time zone its send window was read in.")
    rule_id: UUID | None
    rule_version: int | None
    event_id: UUID | None = Field(description="The business event that caused it.")
    campaign_id: UUID | None
    enrollment_id: UUID | None
    step: int | None = Field(description="The campaign step (from 0) that planned it.")
    sent_at: datetime | None = Field(description="When it was handed to the gateway.")
    delivery_status: str | None
    created_at: datetime


class CancelRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=500)
