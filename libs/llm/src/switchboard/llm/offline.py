"""The offline provider: a deterministic stand-in for a model, with no network and no key."""

from __future__ import annotations

import asyncio

from switchboard.llm.provider import Completion, CompletionRequest

LABEL = "[offline assistant]"
QUOTE_LIMIT = 120
# Per-message framing a chat model adds around each turn, so estimates are not all text.
MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    """About four characters per token, rounded up: deterministic, no tokenizer needed."""
    return (len(text) + 3) // 4


def estimate_input_tokens(request: CompletionRequest) -> int:
    """Tokens of the instructions and every message, with a fixed overhead per message."""
    messages = sum(estimate_tokens(m.text) + MESSAGE_OVERHEAD_TOKENS for m in request.messages)
    return estimate_tokens(request.instructions) + messages


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return "(no text)"
    if len(text) > QUOTE_LIMIT:
        return f'"{text[: QUOTE_LIMIT - 1]}…"'
    return f'"{text}"'


def offline_reply(request: CompletionRequest) -> str:
    """A clearly labelled reply that quotes the last user message and counts the turns."""
    user_turns = [m for m in request.messages if m.role == "user"]
    last = user_turns[-1].text if user_turns else ""
    return (
        f"{LABEL} You said: {_quote(last)} (message {len(user_turns)} of this conversation). "
        "No AI model is configured, so this is an automatic reply."
    )


class OfflineProvider:
    """Answers without any model: the default, so the platform runs with no API keys.

    `latency_seconds` makes each answer take that long, as a real model's would: a load-testing
    aid, so that a benchmark sees the calls pile up in flight as they would in production.
    """

    name = "offline"
    model = "offline"

    def __init__(self, *, latency_seconds: float = 0.0) -> None:
        self.latency_seconds = latency_seconds

    async def complete(self, request: CompletionRequest) -> Completion:
        if self.latency_seconds > 0:
            await asyncio.sleep(self.latency_seconds)
        text = offline_reply(request)
        return Completion(
            text=text,
            input_tokens=estimate_input_tokens(request),
            output_tokens=estimate_tokens(text),
            provider=self.name,
            model=self.model,
        )
