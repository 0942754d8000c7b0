"""HTTP models of the campaigns API: a campaign as an operator writes it and reads it back, its
enrollments, the contacts an operator enrolls, and how each step is doing.

A campaign is checked whole when saved, like a rule: its steps' jumps, loops and templates
(`steps.check_steps`) against the event attributes it declares, so a mistake is a 422 then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from switchboard.campaigns.addresses import is_e164
from switchboard.campaigns.events.schemas import Storable
from switchboard.campaigns.journeys.steps import MAX_STEPS, Step, check_steps, parse_steps
from switchboard.campaigns.journeys.triggers import Trigger, parse_trigger
from switchboard.campaigns.models import Campaign, Enrollment, EnrollmentStep
from switchboard.campaigns.rules.conditions import Condition, referenced_fields
from switchboard.campaigns.rules.schemas import EventAttributes, RuleName

CampaignStatus = Literal["draft", "active", "paused", "disabled"]
EnrollmentStatus = Literal["active", "completed", "exited"]
MAX_EXIT_REPLIES = 20
MAX_ENROLLED_AT_ONCE = 1000

ExitReply = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Storable
]
ExitReplies = Annotated[list[ExitReply], Field(max_length=MAX_EXIT_REPLIES)]
Steps = Annotated[list[Step], Field(max_length=MAX_STEPS)]  # the lower bound: check_steps' words


def _steps_fit(steps: list[Step], event_attributes: Sequence[str]) -> list[Step]:
    """`steps` when they can run; a 422 entry with `check_steps`' reason otherwise."""
    try:
        check_steps(steps, event_attributes)
    except ValueError as error:
        # The reason goes in the context: a template's own braces are not placeholders.
        raise PydanticCustomError("steps", "{reason}", {"reason": str(error)}) from None
    return steps


def stored_steps(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """Steps in the JSON form a `CampaignVersion` keeps."""
    return [step.model_dump(mode="json") for step in steps]


_EXAMPLE_STEPS = [
    {"type": "send", "template": "Welcome aboard, {{ contact.display_name | default('') }}!"},
    {"type": "wait_for_reply", "timeout_seconds": 86400, "on_reply": "thanks"},
    {"type": "send", "template": "Any questions? Just reply to this message."},
    {"type": "exit"},
    {"type": "send", "id": "thanks", "template": "Thanks for your reply!"},
]


class CampaignCreate(BaseModel):
    """A journey: contacts enter it by `trigger` (or by hand), go through `steps` in order, and
    leave at the end, at an `exit` step, or early when they reply with an `exit_replies` phrase
    or opt out."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName = Field(description="Unique within the tenant.", examples=["Onboarding"])
    trigger: Trigger = Field(examples=[{"type": "manual"}])
    event_attributes: EventAttributes = Field(
        default_factory=list,
        description="The enrolling event's attributes the steps may read (`event.<name>`).",
        examples=[["order_id"]],
    )
    steps: Steps = Field(examples=[_EXAMPLE_STEPS])
    exit_replies: ExitReplies = Field(
        default_factory=list,
        description="A reply containing one of these phrases (whole words, any case) takes the "
        f"contact out of the campaign. At most {MAX_EXIT_REPLIES}, each up to 100 characters.",
        examples=[["stop", "not interested"]],
    )
    reenroll: StrictBool = Field(
        default=False, description="Whether a contact who left may enter again."
    )
    announce_enrollments: StrictBool = Field(
        default=False,
        description="Publish `campaign.enrollment_started` and `campaign.enrollment_ended` for "
        "each contact (partner webhooks can subscribe to them).",
    )

    @field_validator("steps")
    @classmethod
    def _runnable(cls, steps: list[Step], info: ValidationInfo) -> list[Step]:
        attributes = info.data.get("event_attributes")
        # Invalid attributes are already reported; the steps are checked once they are fixed.
        return steps if attributes is None else _steps_fit(steps, attributes)

    def columns(self) -> dict[str, Any]:
        """The campaign's columns (its steps go to its first version)."""
        return {
            "name": self.name,
            "trigger": self.trigger.model_dump(mode="json", by_alias=True),
            "event_attributes": self.event_attributes,
            "exit_replies": self.exit_replies,
            "reenroll": self.reenroll,
            "announce_enrollments": self.announce_enrollments,
        }


class CampaignUpdate(BaseModel):
    """Only the fields sent change. New `steps` or `event_attributes` make a new version:
    contacts already in the campaign finish on the version they started."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName | None = None
    trigger: Trigger | None = None
    event_attributes: EventAttributes | None = None
    steps: Steps | None = None
    exit_replies: ExitReplies | None = None
    reenroll: StrictBool | None = None
    announce_enrollments: StrictBool | None = None

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError(
                "not_nullable", "This field cannot be null; leave it out to keep its value."
            )
        return value

    def columns(self) -> dict[str, Any]:
        """The campaign's columns sent (steps aside), the trigger in its JSON form."""
        return self.model_dump(
            mode="json", by_alias=True, include=self.model_fields_set - {"steps"}
        )


class CampaignRead(BaseModel):
    id: UUID
    name: str
    status: CampaignStatus = Field(
        description="draft, active, paused (nothing moves or sends until it is activated again) "
        "or disabled (every contact has left; it cannot be changed or activated again)."
    )
    trigger: Trigger
    event_attributes: list[str]
    exit_replies: list[str]
    reenroll: bool
    announce_enrollments: bool
    version: int = Field(description="Raised by a change of steps or event_attributes.")
    steps: list[Step] = Field(description="The current version's steps.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, campaign: Campaign, steps: list[dict[str, Any]]) -> Self:
        """The campaign as the API shows it, with the steps of its current version."""
        columns = {name: getattr(campaign, name) for name in _CAMPAIGN_COLUMNS}
        trigger = parse_trigger(campaign.trigger)
        return cls.model_validate(columns | {"trigger": trigger, "steps": parse_steps(steps)})


_CAMPAIGN_COLUMNS = (
    "id",
    "name",
    "status",
    "event_attributes",
    "exit_replies",
    "reenroll",
    "announce_enrollments",
    "version",
    "created_at",
    "updated_at",
)


class CampaignDisabled(CampaignRead):
    exited: int = Field(description="How many contacts left the campaign when it was disabled.")

    @classmethod
    def after(cls, campaign: Campaign, steps: list[dict[str, Any]], exited: int) -> Self:
        """The campaign just disabled, and how many contacts that took out."""
        return cls.model_validate(
            CampaignRead.of(campaign, steps).model_dump() | {"exited": exited}
        )


# Enrolling contacts ---------------------------------------------------------------------------


def _e164(value: str) -> str:
    if not is_e164(value):
        raise PydanticCustomError(
            "e164", "A contact's address is a phone number in E.164, e.g. +15551234567."
        )
    return value


def _contact_fields_only(condition: Condition) -> Condition:
    events = [path for path in referenced_fields(condition) if not path.startswith("contact.")]
    if events:
        raise PydanticCustomError(
            "audience_condition",
            "An audience is chosen among contacts: its condition reads contact fields only, "
            "not {fields}.",
            {"fields": ", ".join(f"'{path}'" for path in events)},
        )
    return condition


Address = Annotated[str, StringConstraints(max_length=32), AfterValidator(_e164)]


class ContactRef(BaseModel):
    """A contact by its address, or by its id in the contacts campaigns knows."""

    model_config = ConfigDict(extra="forbid")

    address: Address | None = Field(default=None, examples=["+15551234567"])
    contact_id: UUID | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.address is None) == (self.contact_id is None):
            raise PydanticCustomError(
                "contact_ref", "Name a contact by `address` or by `contact_id`, not both."
            )
        return self


class Audience(BaseModel):
    model_config = ConfigDict(extra="forbid")

    condition: Annotated[Condition, AfterValidator(_contact_fields_only)] = Field(
        examples=[{"field": "contact.attributes.tier", "op": "eq", "value": "gold"}]
    )


class EnrollmentCreate(BaseModel):
    """Contacts to enroll: a list of them, or an audience of the tenant's contacts (`"all"`, or
    those a condition over contact fields picks)."""

    model_config = ConfigDict(extra="forbid")

    contacts: list[ContactRef] | None = Field(
        default=None, min_length=1, max_length=MAX_ENROLLED_AT_ONCE
    )
    audience: Literal["all"] | Audience | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.contacts is None) == (self.audience is None):
            raise PydanticCustomError(
                "enrollment", "Send either `contacts` or `audience`, not both."
            )
        return self


class EnrollmentOutcome(BaseModel):
    enrolled: int = Field(description="How many contacts entered the campaign.")
    skipped: int = Field(
        description="How many did not: already in it, in it before (and it does not re-enroll), "
        "blocked, or unknown."
    )
    enrollment_ids: list[UUID] | None = Field(
        default=None, description="The new enrollments (for a list of contacts)."
    )
    not_found: list[UUID] | None = Field(
        default=None, description="The contact_ids campaigns knows no contact for."
    )


class EnrollmentJobRead(BaseModel):
    """An audience being enrolled in the background (`GET .../enrollment-jobs/{id}` follows it)."""

    id: UUID
    campaign_id: UUID
    status: Literal["running", "done", "stopped"] = Field(
        description="stopped: the campaign stopped being active before every contact was taken."
    )
    reason: str | None
    enrolled: int = Field(description="Contacts that entered so far.")
    skipped: int = Field(
        description="Contacts the audience picked that did not: already in it, in it before "
        "(and it does not re-enroll), or blocked."
    )
    created_at: datetime
    finished_at: datetime | None


# Reading enrollments --------------------------------------------------------------------------


class EnrollmentRead(BaseModel):
    id: UUID
    campaign_id: UUID
    version: int = Field(description="The campaign version the contact goes through.")
    contact_id: UUID | None
    address: str
    status: EnrollmentStatus
    reason: str | None = Field(description="Why it ended, e.g. 'opted out'.")
    step: int = Field(description="The step (from 0) the contact is at.")
    waiting: Literal["time", "reply", "agent"] | None = Field(
        description="What the step waits for, if it waits (`agent`: its composed message's "
        "decision, see /v1/agent-decisions)."
    )
    next_run_at: datetime | None = Field(description="When the contact moves on next.")
    event_id: UUID | None = Field(description="The business event that enrolled the contact.")
    enrolled_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, enrollment: Enrollment) -> Self:
        return cls.model_validate(enrollment, from_attributes=True)


class PathStep(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: int
    outcome: str = Field(
        description="entered, composing (the agent was asked), scheduled, skipped, waiting, "
        "branched, passed, waiting_reply, replied, timed_out, exited or completed."
    )
    detail: str | None
    send_id: UUID | None = Field(description="The scheduled send the step planned, if any.")
    at: datetime


class EnrollmentDetail(EnrollmentRead):
    path: list[PathStep] = Field(description="What happened at each step, in order.")

    @classmethod
    def with_path(cls, enrollment: Enrollment, path: Sequence[EnrollmentStep]) -> Self:
        """The enrollment with the contact's path through the campaign."""
        read = EnrollmentRead.of(enrollment).model_dump()
        return cls.model_validate(read | {"path": [PathStep.model_validate(s) for s in path]})


# Metrics --------------------------------------------------------------------------------------

OUTCOMES = (
    "entered",
    "composing",
    "scheduled",
    "skipped",
    "waiting",
    "branched",
    "passed",
    "waiting_reply",
    "replied",
    "timed_out",
    "exited",
    "completed",
)


class StepMetrics(BaseModel):
    """How often each outcome happened at a step, and how its sends fared. Outcome counts are
    events: a contact who passes a step twice (a loop) counts twice."""

    step: int
    type: str
    id: str | None
    entered: int = 0
    composing: int = Field(default=0, description="Times the agent was asked for a message.")
    scheduled: int = 0
    skipped: int = 0
    waiting: int = 0
    branched: int = 0
    passed: int = 0
    waiting_reply: int = 0
    replied: int = 0
    timed_out: int = 0
    exited: int = 0
    completed: int = 0
    sends_waiting: int = Field(default=0, description="Planned sends not gone yet.")
    sent: int = Field(default=0, description="Sends handed to the gateway.")
    delivered: int = Field(default=0, description="Sends delivered (or read).")
    failed: int = Field(default=0, description="Sends that failed, undelivered or refused.")
    sends_skipped: int = Field(
        default=0, description="Sends the scheduler did not send (frequency cap, opt-out...)."
    )
    sends_cancelled: int = 0


class CampaignMetrics(BaseModel):
    enrolled: int = Field(description="Enrollments ever, on every version.")
    active: int
    completed: int
    exited: int
    exit_reasons: dict[str, int] = Field(examples=[{"opted out": 3, "replied 'stop'": 1}])
    steps: list[StepMetrics]
