from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from switchboard.gateway.partners.payloads import PartnerEventType


class EndpointCreate(BaseModel):
    url: str = Field(max_length=2000, description="https URL that receives the events.")
    event_types: list[PartnerEventType] = Field(min_length=1)
    description: str = Field(default="", max_length=200)
    enabled: bool = True


class EndpointUpdate(BaseModel):
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[PartnerEventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = Field(
        default=None, description="true re-enables a disabled endpoint and clears its reason."
    )


class EndpointRead(BaseModel):
    id: UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointRead):
    secret: str = Field(description="The signing secret (`whsec_...`); shown only this once.")


class SecretRotate(BaseModel):
    grace_seconds: int = Field(
        default=86400, ge=0, le=7 * 86400, description="How long the old secret still signs."
    )


class SecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret; shown only this once.")
    previous_secret_expires_at: datetime


class DeliveryRead(BaseModel):
    id: UUID = Field(description="Also the `webhook-id` header of every attempt.")
    endpoint_id: UUID
    event_id: UUID
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    payload: dict[str, Any]


class AttemptRead(BaseModel):
    id: int
    delivery_id: UUID
    endpoint_id: UUID
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str | None


class ReplayRequest(BaseModel):
    since: AwareDatetime = Field(description="Deliveries created at or after this time go again.")


class ReplayResult(BaseModel):
    deliveries: int
