"""What a tenant's systems send us as business events, and what they read back."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AllowInfNan,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from switchboard.campaigns.addresses import is_e164

EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
MAX_ATTRIBUTES = 50
_EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN)


def _storable(value: str) -> str:
    # PostgreSQL text and JSONB refuse NUL characters; a 422 beats a database error.
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "Text must not contain NUL characters.")
    return value


Storable = AfterValidator(_storable)
AttributeName = Annotated[str, StringConstraints(min_length=1, max_length=64), Storable]
AttributeValue = (
    Annotated[str, Strict(), StringConstraints(max_length=1000), Storable]
    | Annotated[int, Strict()]
    | Annotated[float, Strict(), AllowInfNan(False)]
    | Annotated[bool, Strict()]
)
ExternalContactId = Annotated[str, StringConstraints(min_length=1, max_length=200), Storable]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200), Storable]


class EventCreate(BaseModel):
    """A business event from a tenant's systems, about one contact."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(
        max_length=100,
        description="Dot-separated lowercase words naming what happened.",
        examples=["order.shipped"],
    )
    contact_address: str | None = Field(
        default=None, description="The contact's phone number in E.164.", examples=["+15551234567"]
    )
    external_contact_id: ExternalContactId | None = Field(
        default=None, description="The contact's id in the tenant's own system."
    )
    attributes: dict[AttributeName, AttributeValue] = Field(
        default_factory=dict,
        description=f"Flat string, number or boolean values; at most {MAX_ATTRIBUTES} keys.",
        examples=[{"order_id": "A-1001", "total": 42.5, "express": True}],
    )
    idempotency_key: IdempotencyKey | None = Field(
        default=None,
        description="The same key again returns the first event instead of storing another.",
    )
    occurred_at: AwareDatetime | None = Field(
        default=None, description="When it happened; defaults to when it was received."
    )

    @field_validator("type")
    @classmethod
    def _dotted_type(cls, value: str) -> str:
        if not _EVENT_TYPE.fullmatch(value):
            raise PydanticCustomError(
                "event_type",
                "Event types are dot-separated lowercase words, e.g. 'order.shipped'.",
            )
        return value

    @field_validator("contact_address")
    @classmethod
    def _e164_address(cls, value: str | None) -> str | None:
        if value is not None and not is_e164(value):
            raise PydanticCustomError(
                "e164", "The contact address must be a phone number in E.164, e.g. +15551234567."
            )
        return value

    @field_validator("attributes", mode="before")
    @classmethod
    def _flat_attributes(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if len(value) > MAX_ATTRIBUTES:
            raise PydanticCustomError(
                "too_many_attributes",
                "At most {limit} attributes are allowed, not {count}.",
                {"limit": MAX_ATTRIBUTES, "count": len(value)},
            )
        for name, item in value.items():
            if item is None or isinstance(item, dict | list):
                raise PydanticCustomError(
                    "flat_attributes",
                    "Attribute '{name}' must be a string, number or boolean.",
                    {"name": name},
                )
        return value

    @model_validator(mode="after")
    def _names_a_contact(self) -> EventCreate:
        if self.contact_address is None and self.external_contact_id is None:
            raise PydanticCustomError(
                "contact_required", "Give the contact_address, the external_contact_id, or both."
            )
        return self

    def fingerprint(self) -> str:
        """A digest of what the event says, to tell a retry from a reused idempotency key."""
        occurred_at = self.occurred_at.astimezone(UTC).isoformat() if self.occurred_at else None
        content = {
            "type": self.type,
            "contact_address": self.contact_address,
            "external_contact_id": self.external_contact_id,
            "attributes": self.attributes,
            "occurred_at": occurred_at,
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class EventRead(BaseModel):
    id: UUID
    type: str
    contact_address: str | None
    external_contact_id: str | None
    attributes: dict[str, str | int | float | bool]
    idempotency_key: str
    occurred_at: datetime
    received_at: datetime
