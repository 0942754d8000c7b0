"""What a moderation check says about one text, and what the caller should do about it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

Direction = Literal["inbound", "outbound"]
"""`inbound`: a contact's message to the tenant; `outbound`: a reply about to be sent."""

Action = Literal["allow", "review", "block"]

LOCAL = "local"
"""The source of findings of the local rule set (a provider's findings carry its name)."""


class Category(StrEnum):
    SELF_HARM = "self_harm"
    VIOLENCE = "violence"
    HATE = "hate"
    HARASSMENT = "harassment"
    SEXUAL = "sexual"
    SEXUAL_MINORS = "sexual_minors"
    ILLICIT = "illicit"
    PAYMENT_CARD = "payment_card"
    CREDENTIALS = "credentials"
    NATIONAL_ID = "national_id"
    BLOCKED_PHRASE = "blocked_phrase"
    """One of the tenant's own blocked phrases."""
    OTHER = "other"
    """A provider category this code does not know yet (providers add categories)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason a text was flagged. `reason` names the rule or the provider's category and,
    for harmful wording, the words that matched; never the whole text, and never a matched card
    number, key or SSN (the verdict is logged and stored)."""

    category: Category
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The findings for one text checked in one direction.

    The action follows from the direction. Inbound, a flag means `review`: the message has
    arrived whatever we think of it, so the caller marks the conversation for a person's review
    or hands it over rather than refusing it (a contact who says they feel hopeless needs a
    person, not a refusal). Outbound, a flag means `block`: the reply is not sent, and the
    caller sends a safe fallback instead.
    """

    direction: Direction
    findings: tuple[Finding, ...] = ()
    provider_error: str | None = None
    """Why the provider check could not run; the local rules alone decided (fail open)."""

    @property
    def flagged(self) -> bool:
        return bool(self.findings)

    @property
    def categories(self) -> frozenset[Category]:
        return frozenset(f.category for f in self.findings)

    @property
    def sources(self) -> tuple[str, ...]:
        """Who flagged it (`local` and/or the provider's name), in the order they did."""
        return tuple(dict.fromkeys(f.source for f in self.findings))

    @property
    def action(self) -> Action:
        if not self.findings:
            return "allow"
        return "review" if self.direction == "inbound" else "block"

    def as_record(self) -> dict[str, Any]:
        """The verdict as JSON-ready data, for a transcript row or a log line."""
        return {
            "direction": self.direction,
            "action": self.action,
            "categories": sorted(self.categories),
            "findings": [
                {"category": f.category.value, "source": f.source, "reason": f.reason}
                for f in self.findings
            ],
            "provider_error": self.provider_error,
        }
