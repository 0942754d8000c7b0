"""What a rule's template may read, checked the same way when the rule is saved and when it fires.

The API and the worker both go through `available_fields`, so a template that was accepted can
always be filled in from an event that carries the rule's declared attributes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from switchboard.campaigns.rules.templates import MessageTemplate, TemplateError, compile_template

__all__ = ["CONTACT_FIELDS", "available_fields", "compile_rule_template"]

CONTACT_FIELDS: tuple[str, ...] = (
    "contact.address",
    "contact.display_name",
    "contact.time_zone",
    "contact.attributes.*",
)
"""The contact's fields a template may read; its attributes by any name (absent ones need
`default`)."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def available_fields(event_attributes: Sequence[str]) -> list[str]:
    """The fields a rule's template may read: the event's type and declared attributes, the
    contact's fields, and `now`."""
    declared = (f"event.{name}" for name in event_attributes)
    return ["event.type", *declared, *CONTACT_FIELDS, "now"]


def compile_rule_template(source: str, event_attributes: Sequence[str]) -> MessageTemplate:
    """The rule's template compiled against its fields; a `TemplateError` otherwise, which tells
    the operator to declare an event attribute the template reads without declaring it."""
    return _compiled(source, tuple(event_attributes))


@lru_cache(maxsize=1024)  # a page of rules, or a burst of events, compiles each template once
def _compiled(source: str, event_attributes: tuple[str, ...]) -> MessageTemplate:
    available = available_fields(event_attributes)
    try:
        return compile_template(source, available=available)
    except TemplateError as error:
        # Again with any event attribute available: a template that passes then only reads
        # attributes the rule does not declare (any other mistake is raised as it is).
        lenient = compile_template(source, available=[*available, "event.*"])
        undeclared = [
            path.removeprefix("event.")
            for path in lenient.fields
            if path.startswith("event.") and path not in available
        ]
        raise TemplateError(_undeclared(undeclared), line=error.line) from None


def _undeclared(names: list[str]) -> str:
    unreadable = [name for name in names if not _NAME.fullmatch(name)]
    if unreadable:
        return (
            f"The template reads {_fields(unreadable)}; a rule reads only event attributes named "
            "with letters, digits and underscores."
        )
    quoted = ", ".join(f"'{name}'" for name in names)
    return (
        f"The template reads {_fields(names)}, which the rule does not declare: add {quoted} to "
        "event_attributes (the rule then fires only for events that carry them)."
    )


def _fields(names: list[str]) -> str:
    return ", ".join(f"'event.{name}'" for name in names)
