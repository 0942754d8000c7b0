"""What a contact's message gets: decided with no transaction open, then recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from switchboard.contracts import LlmPurpose, MessageReceivedData
from switchboard.conversation.assistant.commands import ConfigField
from switchboard.llm import Completion

Outcome = Literal[
    "answered",
    "blocked",
    "handed_over",
    "rate_limited",
    "command",
    "handoff",
    "ai_off",
    "quota",
    "flagged",
    "failed",
]


def reply_key(message: MessageReceivedData) -> str:
    """The idempotency key of the reply to an inbound message: one reply per message."""
    return f"reply:{message.message_id}"


@dataclass(frozen=True, slots=True)
class Call:
    """One model call and what it cost, published as `usage`."""

    purpose: LlmPurpose
    completion: Completion
    latency_ms: int


@dataclass(frozen=True)
class Decision:
    """What a message gets.

    `reply` is what the contact is sent, if anything: the model's shaped answer or a fixed
    reply. `chat` is the model's answer, kept as the assistant's turn; a `withheld` one failed
    moderation and is kept for review only, while `reply` (the safe fallback) goes out instead.
    """

    outcome: Outcome
    reply: str | None = None
    chat: Call | None = None
    withheld: bool = False
    review: str | None = None
    handoff: str | None = None
    verdict: dict[str, Any] | None = None
    fallback: tuple[str, ...] = ()
    summary: tuple[str, int] | None = None
    """A new rolling summary and the last turn it covers."""
    calls: list[Call] = field(default_factory=list)
    """Every model call made, answered or not: each one is usage."""
    contact_change: tuple[ConfigField, str] | None = None
    """A contact's own `CONFIG` change."""
    close: bool = False
    """`RESET`: the conversation ends after this reply."""

    @property
    def model_speaks(self) -> bool:
        """The model's answer is what goes out (so it must still be wanted when recorded)."""
        return self.chat is not None and not self.withheld
