"""Checks of inbound messages and outbound replies: local rules always, a provider's model
where configured (see `moderator` for how they combine and fail open)."""

from __future__ import annotations

from switchboard.conversation.moderation.moderator import ModerationProvider, Moderator
from switchboard.conversation.moderation.openai import OpenAIModeration
from switchboard.conversation.moderation.rules import check_local
from switchboard.conversation.moderation.verdict import (
    LOCAL,
    Action,
    Category,
    Direction,
    Finding,
    Verdict,
)

__all__ = [
    "LOCAL",
    "Action",
    "Category",
    "Direction",
    "Finding",
    "ModerationProvider",
    "Moderator",
    "OpenAIModeration",
    "Verdict",
    "check_local",
]
