"""The envelope every Switchboard event travels in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self
from uuid import UUID

import uuid_utils.compat as uuid_compat
from pydantic import BaseModel, ConfigDict, Field


def new_event_id() -> UUID:
    """A time-ordered UUIDv7, so event ids sort by creation time."""
    return uuid_compat.uuid7()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of every payload: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(Contract):
    """The common envelope: subclasses pin `type` and give `data` its model."""

    event_id: UUID = Field(default_factory=new_event_id)
    type: str
    version: int = 1
    tenant_id: UUID
    occurred_at: datetime = Field(default_factory=utcnow)
    data: Any

    @classmethod
    def create(cls, tenant_id: UUID, data: Any, **envelope: Any) -> Self:
        """Build an event with a fresh id and the current time."""
        return cls(tenant_id=tenant_id, data=data, **envelope)
