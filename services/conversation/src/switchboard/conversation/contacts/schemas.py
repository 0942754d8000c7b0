"""HTTP models of the contacts API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from switchboard.conversation.personas.schemas import SLUG_PATTERN, Storable

MAX_ATTRIBUTES = 50


@cache
def _zones() -> frozenset[str]:
    # Read once: `available_timezones()` walks the zone database on every call.
    return frozenset(available_timezones())


def iana_zone(value: str) -> str:
    """An IANA zone name (`Europe/London`), not an offset or an abbreviation: replies are timed
    by it, and only a named zone follows daylight saving."""
    if value not in _zones():
        raise PydanticCustomError(
            "time_zone", "Not an IANA time zone name (such as Europe/London or America/New_York)."
        )
    ZoneInfo(value)  # in the database listing, and loadable
    return value


AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=64), Storable]
AttributeValue = Annotated[str, StringConstraints(max_length=500), Storable]


class ContactRead(BaseModel):
    id: UUID
    address: str
    display_name: str | None
    time_zone: str | None
    language: str | None = Field(description="The language replies are written in.")
    persona: str | None = Field(description="The contact's persona; null: the tenant's default.")
    attributes: dict[str, str]
    blocked: bool = Field(description="The assistant does not answer a blocked contact.")
    created_at: datetime


class ContactUpdate(BaseModel):
    """Only the fields sent change; `null` clears a nullable one. `attributes` merge into the
    contact's: a key set to `null` is removed, keys not sent are kept."""

    model_config = ConfigDict(extra="forbid")

    display_name: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Storable
        ]
        | None
    ) = None
    time_zone: (
        Annotated[str, StringConstraints(max_length=64), AfterValidator(iana_zone)] | None
    ) = Field(default=None, examples=["Europe/London"])
    language: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=35), Storable
        ]
        | None
    ) = Field(default=None, description="A language name or a BCP 47 tag.", examples=["es"])
    persona: Annotated[str, StringConstraints(pattern=SLUG_PATTERN)] | None = Field(
        default=None, description="One of the tenant's personas; null: the tenant's default."
    )
    attributes: dict[AttributeKey, AttributeValue | None] = Field(
        default_factory=dict, max_length=MAX_ATTRIBUTES
    )
    blocked: StrictBool = False


class TurnExport(BaseModel):
    """One message of a transcript, with everything kept about it."""

    id: UUID
    seq: int
    role: str = Field(description="`user`, `assistant`, `operator` or `system`.")
    body: str
    outcome: str | None = Field(description="What became of a contact's message.")
    author: str | None = Field(description="The operator who wrote it.")
    message_id: UUID | None
    idempotency_key: str | None
    delivery_status: str | None
    provider: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost: Decimal | None
    latency_ms: int | None
    fallback: list[str]
    moderation: dict[str, Any] | None = Field(description="The moderation verdict, if any.")
    created_at: datetime


class ConversationExport(BaseModel):
    id: UUID
    channel: str
    sender_address: str
    status: str
    handler: str
    handoff_reason: str | None
    handed_off_at: datetime | None
    needs_review: bool
    review_reason: str | None
    summary: str | None
    created_at: datetime
    last_message_at: datetime
    closed_at: datetime | None
    turns: list[TurnExport] = Field(description="Every turn, oldest first.")


class ContactExport(BaseModel):
    """Everything this service keeps about one contact, for a privacy (access) request."""

    exported_at: datetime
    contact: ContactRead
    conversations: list[ConversationExport] = Field(
        description="Every conversation, open and closed, oldest first."
    )
