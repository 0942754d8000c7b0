"""What a contact can say to the assistant itself rather than to the business.

`RESET` starts a fresh conversation; `CONFIG` shows or changes the contact's own settings
(persona, name, language, time zone); asking for a person ("human", "agent", "talk to someone")
or saying one of the tenant's handoff phrases hands the conversation over. STOP, START and HELP
never get here: the gateway decides them first and the assistant ignores those messages.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal
from zoneinfo import available_timezones

from switchboard.conversation.assistant import replies

ConfigField = Literal["persona", "name", "language", "time_zone"]


@dataclass(frozen=True, slots=True)
class Reset:
    pass


@dataclass(frozen=True, slots=True)
class ShowConfig:
    pass


@dataclass(frozen=True, slots=True)
class SetConfig:
    field: ConfigField
    value: str


@dataclass(frozen=True, slots=True)
class BadConfig:
    """A `CONFIG` the contact got wrong: `problem` says what, the reply shows how."""

    problem: str


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    reason: str


Command = Reset | ShowConfig | SetConfig | BadConfig | HandoffRequest

CONFIG_USAGE = (
    "Text CONFIG to see your settings, or CONFIG PERSONA <name>, CONFIG NAME <your name>, "
    "CONFIG LANGUAGE <language>, CONFIG TIMEZONE <zone, e.g. Europe/London>."
)

_FIELDS: dict[str, ConfigField] = {
    "persona": "persona",
    "name": "name",
    "language": "language",
    "lang": "language",
    "timezone": "time_zone",
    "tz": "time_zone",
    "zone": "time_zone",
}
_LIMITS: dict[ConfigField, int] = {"persona": 64, "name": 100, "language": 35, "time_zone": 64}
_LANGUAGE = re.compile(r"^[^\W\d_][\w\s()-]*$")
_PERSON = r"(?:human|person|agent|operator|representative|someone|somebody|staff)"
_ASKS_FOR_A_PERSON = (
    # The whole message: "human", "agent please", "a real person".
    re.compile(rf"^(?:please )?(?:a |an )?(?:real |live )?{_PERSON}(?: please)?$"),
    # Within one: "can I talk to a human", "I need to speak with someone".
    re.compile(
        rf"\b(?:talk|speak|chat) (?:to|with) (?:a |an |the |some )?(?:real |live )?{_PERSON}\b"
    ),
    re.compile(r"\b(?:real|live) (?:human|person|agent)\b|\bhuman agent\b"),
)


def _normalise(body: str) -> str:
    return " ".join(re.sub(r"[^\w\s/+-]", " ", body.lower()).split())


def parse(body: str, handoff_phrases: Sequence[str] = ()) -> Command | None:
    """The command in a contact's message, or None for a message meant for the assistant."""
    words = body.split(maxsplit=2)
    if not words:
        return None
    head = words[0].upper().rstrip(".!")
    if head == "RESET" and len(words) == 1:
        return Reset()
    if head == "CONFIG":
        return _config(words[1:])
    said = _normalise(body)
    if any(pattern.search(said) for pattern in _ASKS_FOR_A_PERSON):
        return HandoffRequest("the contact asked for a person")
    for phrase in handoff_phrases:
        wanted = _normalise(phrase)
        if wanted and re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", said):
            return HandoffRequest(f'handoff phrase "{phrase}"')
    return None


def _config(words: list[str]) -> Command:
    if not words or (len(words) == 1 and words[0].lower() == "show"):
        return ShowConfig()
    field = _FIELDS.get(words[0].lower())
    if field is None:
        return BadConfig(f'I don\'t know the setting "{words[0][:20]}".')
    value = words[1].strip() if len(words) > 1 else ""
    if not value:
        return BadConfig(f"Say what to set {words[0].lower()} to.")
    if len(value) > _LIMITS[field]:
        return BadConfig(f"That {words[0].lower()} is too long.")
    if field == "time_zone":
        zone = _time_zone(value)
        if zone is None:
            return BadConfig(f'"{value[:40]}" is not a time zone I know.')
        value = zone
    if field == "language" and not _LANGUAGE.match(value):
        return BadConfig(f'"{value[:35]}" is not a language name.')
    if field == "persona":
        value = value.lower()
    return SetConfig(field, value)


@cache
def _zones_by_lower() -> dict[str, str]:
    return {zone.lower(): zone for zone in available_timezones()}


def _time_zone(value: str) -> str | None:
    """The IANA zone named by `value`, whatever its letter case (`europe/paris` works)."""
    return _zones_by_lower().get(value.replace(" ", "_").lower())


@dataclass(frozen=True, slots=True)
class Profile:
    """A contact's own settings as `CONFIG` shows them."""

    persona: str
    """The persona they chose, else the tenant's default."""
    name: str | None = None
    language: str | None = None
    time_zone: str | None = None

    def shown(self) -> str:
        return (
            f"Your settings: persona {self.persona}, name {self.name or '(not set)'}, "
            f"language {self.language or '(automatic)'}, "
            f"time zone {self.time_zone or '(not set)'}."
        )


def respond(
    command: Reset | ShowConfig | SetConfig | BadConfig,
    profile: Profile,
    personas: Collection[str],
) -> tuple[str, SetConfig | None]:
    """The reply to a command, and the change to the contact's settings it makes, if any.

    `personas` are the slugs the contact may choose (the tenant's and the library's)."""
    if isinstance(command, Reset):
        return replies.RESET, None
    if isinstance(command, BadConfig):
        return f"{command.problem} {CONFIG_USAGE}", None
    if isinstance(command, ShowConfig):
        return f"{profile.shown()} {CONFIG_USAGE}", None
    if command.field == "persona" and command.value not in personas:
        problem = f'There is no persona "{command.value}". Choose one of: {", ".join(personas)}.'
        return f"{problem} {CONFIG_USAGE}", None
    changed = replace(profile, **{command.field: command.value})
    return f"Saved. {changed.shown()}", command
