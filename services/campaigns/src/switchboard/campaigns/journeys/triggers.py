"""How contacts enter a campaign."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from switchboard.campaigns.events.schemas import EVENT_TYPE_PATTERN
from switchboard.campaigns.rules.conditions import Condition
from switchboard.campaigns.timing import ClockTime

_TRIGGER = ConfigDict(extra="forbid", frozen=True)


class EventTrigger(BaseModel):
    """A business event of `event_type` whose `condition` holds enrolls its contact."""

    model_config = _TRIGGER

    type: Literal["event"] = "event"
    event_type: str = Field(pattern=EVENT_TYPE_PATTERN, max_length=100)
    condition: Condition | None = None


class ManualTrigger(BaseModel):
    """Operators enroll contacts through the API."""

    model_config = _TRIGGER

    type: Literal["manual"] = "manual"


class DateTrigger(BaseModel):
    """A date in a contact attribute (`signup_date`: `2026-03-01`), `offset_days` later, at
    `at` on the contact's clock: "3 days after signup, at 10:00"."""

    model_config = _TRIGGER

    type: Literal["date"] = "date"
    attribute: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    offset_days: int = Field(default=0, ge=-365, le=365)
    at: ClockTime


Trigger = Annotated[EventTrigger | ManualTrigger | DateTrigger, Field(discriminator="type")]
_TRIGGERS: TypeAdapter[Trigger] = TypeAdapter(Trigger)


def parse_trigger(raw: object) -> Trigger:
    return _TRIGGERS.validate_python(raw)
