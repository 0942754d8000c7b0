"""What the model remembers: the newest turns word for word, older ones as a rolling summary.

Turns not yet in the summary are kept verbatim while they fit both `keep_turns` and the token
budget. Once they no longer fit, the oldest are folded into the summary, down to half of each
limit, so a summary call happens every few exchanges rather than on every message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from switchboard.llm import ChatMessage, CompletionRequest
from switchboard.llm.offline import estimate_tokens

SUMMARY_INSTRUCTIONS = (
    "You keep the memory of a text conversation between a business's assistant and a customer. "
    "Rewrite the summary so it also covers the new messages. Keep names, facts the customer "
    "gave, requests, promises made and open questions; drop greetings and small talk. At most "
    "120 words, plain text, no preamble."
)


UNHEARD = ("command", "blocked", "rate_limited", "withheld")
"""Outcomes of turns the model never reads back."""


class Remembered(NamedTuple):
    """A turn as memory needs it: only what the model reads and where it stands."""

    seq: int
    role: str
    body: str


SPEAKERS = {"user": "Customer", "assistant": "Assistant", "operator": "Staff"}


@dataclass(frozen=True, slots=True)
class Memory:
    verbatim: list[Remembered]
    to_fold: list[Remembered]
    """Turns to fold into the summary before answering (empty: none need to be)."""


def plan(turns: Sequence[Remembered], *, keep_turns: int, token_budget: int) -> Memory:
    """Split unsummarised turns (oldest first) into what the model reads and what to fold."""
    if _fits(turns, keep_turns, token_budget):
        return Memory(list(turns), [])
    keep, tokens = 0, 0
    for turn in reversed(turns):
        tokens += estimate_tokens(turn.body)
        if keep + 1 > keep_turns // 2 or tokens > token_budget // 2:
            break
        keep += 1
    split = len(turns) - keep
    # The words kept start with the contact's: some APIs want a chat to open with the user.
    while split < len(turns) and turns[split].role != "user":
        split += 1
    return Memory(list(turns[split:]), list(turns[:split]))


def _fits(turns: Sequence[Remembered], keep_turns: int, token_budget: int) -> bool:
    return len(turns) <= keep_turns and sum(estimate_tokens(t.body) for t in turns) <= token_budget


def summary_request(summary: str | None, turns: Sequence[Remembered]) -> CompletionRequest:
    lines = "\n".join(f"{SPEAKERS.get(t.role, t.role)}: {t.body}" for t in turns)
    text = f"Summary so far:\n{summary or '(none yet)'}\n\nNew messages:\n{lines}"
    return CompletionRequest(
        instructions=SUMMARY_INSTRUCTIONS,
        messages=(ChatMessage(role="user", text=text),),
        max_output_tokens=250,
        purpose="summary",
    )


def chat_messages(turns: Sequence[Remembered], body: str) -> tuple[ChatMessage, ...]:
    """The verbatim turns and the new message as the model's chat; staff replies read as the
    business's side of the conversation."""
    earlier = (
        ChatMessage(role="user" if t.role == "user" else "assistant", text=t.body) for t in turns
    )
    return (*earlier, ChatMessage(role="user", text=body))
