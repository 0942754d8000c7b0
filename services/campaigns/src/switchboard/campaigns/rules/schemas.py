"""HTTP models of the rules API: a rule as an operator writes it, and as they read it back.

A rule is checked whole when it is saved: its condition's fields and operators, and its template
against the fields it may read (`compiled.available_fields`), so a typo or an undeclared event
attribute is a 422 then, not a failed send later.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
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
from switchboard.campaigns.agent.compose import Compose
from switchboard.campaigns.events.schemas import EVENT_TYPE_PATTERN, Storable
from switchboard.campaigns.models import Rule
from switchboard.campaigns.rules.compiled import compile_rule_template
from switchboard.campaigns.rules.conditions import Condition, describe, parse_condition
from switchboard.campaigns.rules.templates import TemplateError
from switchboard.contracts import Channel

MAX_EVENT_ATTRIBUTES = 50
SCHEDULE_HORIZON_DAYS = 365
"""How long the schedule keeps a send: no rule may delay one further."""
MAX_DELAY_SECONDS = SCHEDULE_HORIZON_DAYS * 24 * 60 * 60

_EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN)
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _event_type(value: str) -> str:
    if not _EVENT_TYPE.fullmatch(value):
        raise PydanticCustomError(
            "event_type", "Event types are dot-separated lowercase words, e.g. 'order.shipped'."
        )
    return value


def _attribute_name(value: str) -> str:
    if not _ATTRIBUTE_NAME.fullmatch(value):
        raise PydanticCustomError(
            "attribute_name",
            "Attribute '{name}' must be letters, digits and underscores, not starting with a "
            "digit.",
            {"name": value},
        )
    if value == "type":
        raise PydanticCustomError(
            "attribute_name",
            "'type' is the event's type, always available as event.type: do not declare it.",
        )
    return value


def _distinct(names: list[str]) -> list[str]:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PydanticCustomError(
            "duplicate_attributes",
            "Declare each attribute once: {names} appear more than once.",
            {"names": ", ".join(repeated)},
        )
    return names


def _e164(value: str) -> str:
    if not is_e164(value):
        raise PydanticCustomError(
            "e164", "The sender must be a phone number in E.164, e.g. +15551234567."
        )
    return value


def _within_horizon(seconds: int) -> int:
    if seconds > MAX_DELAY_SECONDS:
        raise PydanticCustomError(
            "delay_beyond_horizon",
            "The schedule keeps sends for {days} days: delay_seconds is at most {limit}.",
            {"days": SCHEDULE_HORIZON_DAYS, "limit": MAX_DELAY_SECONDS},
        )
    return seconds


def _template_fits(source: str, event_attributes: Sequence[str]) -> str:
    """`source` when it compiles against the rule's fields; a 422 entry naming the problem."""
    try:
        compile_rule_template(source, event_attributes)
    except TemplateError as error:
        # The reason goes in the context: a template's own braces are not placeholders.
        raise PydanticCustomError("template", "{reason}", {"reason": str(error)}) from None
    return source


RuleName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Storable
]
EventType = Annotated[str, StringConstraints(max_length=100), AfterValidator(_event_type)]
AttributeName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_attribute_name)]
EventAttributes = Annotated[
    list[AttributeName], Field(max_length=MAX_EVENT_ATTRIBUTES), AfterValidator(_distinct)
]
TemplateSource = Annotated[str, Storable]  # its length and emptiness: compile_template's words
FromAddress = Annotated[str, StringConstraints(max_length=32), AfterValidator(_e164)]
DelaySeconds = Annotated[int, Field(ge=0), AfterValidator(_within_horizon)]

_EXAMPLE_CONDITION = {
    "all": [
        {"field": "event.total", "op": "gt", "value": 100},
        {"field": "contact.attributes.tier", "op": "eq", "value": "gold"},
    ]
}
_EXAMPLE_TEMPLATE = (
    'Hi {{ contact.display_name | default("there") }}, order {{ event.order_id }} has shipped.'
)


class RuleCreate(BaseModel):
    """When an event of `event_type` arrives and `condition` holds, send `template`'s message
    to the event's contact, `delay_seconds` later (held until the send window opens)."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName = Field(description="Unique within the tenant.", examples=["Shipping notice"])
    event_type: EventType = Field(examples=["order.shipped"])
    event_attributes: EventAttributes = Field(
        default_factory=list,
        description="The event attributes the template reads (`event.<name>`); an event without "
        f"one of them does not qualify. At most {MAX_EVENT_ATTRIBUTES}.",
        examples=[["order_id"]],
    )
    condition: Condition | None = Field(
        default=None,
        description="Which events and contacts qualify; null: every event of the type. A field "
        "the event lacks makes its comparison false, so it needs no declaring.",
        examples=[_EXAMPLE_CONDITION],
    )
    template: TemplateSource | None = Field(
        default=None,
        description="The message (sandboxed Jinja2). It may read event.type, the declared "
        "event.<attribute>s, contact.address, contact.display_name, contact.time_zone, "
        "contact.attributes.<name> and now. Give this or `compose`.",
        examples=[_EXAMPLE_TEMPLATE],
    )
    compose: Compose | None = Field(
        default=None,
        description="Instead of a template: the message in plain language, for the AI agent, "
        "which decides to send (writing the message), skip or delay for each contact.",
    )
    channel: Channel = "sms"
    from_address: FromAddress | None = Field(
        default=None, description="Sender number in E.164; null: the tenant's default."
    )
    delay_seconds: DelaySeconds = Field(
        default=0,
        description=f"How long after the event to send, at most {SCHEDULE_HORIZON_DAYS} days.",
    )
    enabled: StrictBool = True

    @field_validator("template")
    @classmethod
    def _compiles(cls, source: str | None, info: ValidationInfo) -> str | None:
        attributes = info.data.get("event_attributes")
        # Invalid attributes are already reported; the template is checked once they are fixed.
        if source is None or attributes is None:
            return source
        return _template_fits(source, attributes)

    @model_validator(mode="after")
    def _one_message(self) -> RuleCreate:
        if (self.template is None) == (self.compose is None):
            raise PydanticCustomError(
                "message", "A rule gives either a `template` or `compose` instructions, not both."
            )
        return self

    def columns(self) -> dict[str, Any]:
        """The rule's columns, the condition in its JSON form."""
        return self.model_dump(mode="json", by_alias=True)


_NOT_NULL = ("name", "event_type", "event_attributes", "template", "channel", "delay_seconds")


class RuleUpdate(BaseModel):
    """Only the fields sent change; `null` clears `condition` or `from_address`. The template is
    checked again against the rule as it would be."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName | None = None
    event_type: EventType | None = None
    event_attributes: EventAttributes | None = None
    condition: Condition | None = None
    template: TemplateSource | None = Field(default=None, description="Replaces `compose`.")
    compose: Compose | None = Field(default=None, description="Replaces `template`.")
    channel: Channel | None = None
    from_address: FromAddress | None = None
    delay_seconds: DelaySeconds | None = None
    enabled: StrictBool | None = Field(default=None, description="false pauses the rule.")

    @field_validator(*_NOT_NULL, "compose", "enabled")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError(
                "not_nullable", "This field cannot be null; leave it out to keep its value."
            )
        return value

    @model_validator(mode="after")
    def _one_message(self) -> RuleUpdate:
        if {"template", "compose"} <= self.model_fields_set:
            raise PydanticCustomError(
                "message", "A rule gives either a `template` or `compose` instructions, not both."
            )
        return self

    def columns(self) -> dict[str, Any]:
        """The columns sent, the condition in its JSON form; a new template drops the compose
        instructions and new instructions drop the template."""
        columns = self.model_dump(mode="json", by_alias=True, include=self.model_fields_set)
        if "template" in self.model_fields_set:
            columns["compose"] = None
        if "compose" in self.model_fields_set:
            columns["template"] = None
        return columns


class RuleRead(BaseModel):
    id: UUID
    name: str
    event_type: str
    event_attributes: list[str]
    condition: Condition | None
    condition_text: str = Field(
        description="The condition in words.", examples=["event.total > 100"]
    )
    template: str | None
    template_fields: list[str] = Field(
        description="The fields the template reads.", examples=[["contact.display_name"]]
    )
    compose: Compose | None
    channel: Channel
    from_address: str | None
    delay_seconds: int
    enabled: bool
    version: int = Field(description="Raised by every change; a send records the one it used.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, rule: Rule) -> RuleRead:
        """The rule as the API shows it, with its condition in words and its template's fields."""
        condition = parse_condition(rule.condition)
        fields: list[str] = []
        if rule.template is not None:
            fields = list(compile_rule_template(rule.template, rule.event_attributes).fields)
        columns = {name: getattr(rule, name) for name in _READ_COLUMNS}
        return cls.model_validate(
            columns
            | {
                "condition": condition,
                "condition_text": describe(condition),
                "template_fields": fields,
            }
        )


_READ_COLUMNS = (
    "id",
    "name",
    "event_type",
    "event_attributes",
    "template",
    "compose",
    "channel",
    "from_address",
    "delay_seconds",
    "enabled",
    "version",
    "created_at",
    "updated_at",
)
