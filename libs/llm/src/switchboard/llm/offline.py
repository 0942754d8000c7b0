"""The offline provider: a deterministic stand-in for a model, with no network and no key.

Asked to call a tool (`tool_choice` "any" or a tool's name), it calls it with the tool's
`offline_arguments` ("any": the request's last tool); otherwise it answers in text.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from switchboard.llm.provider import ChatMessage, Completion, CompletionRequest, Tool, ToolCall

LABEL = "[offline assistant]"
QUOTE_LIMIT = 120
# Per-message framing a chat model adds around each turn, so estimates are not all text.
MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    """About four characters per token, rounded up: deterministic, no tokenizer needed."""
    return (len(text) + 3) // 4


def estimate_input_tokens(request: CompletionRequest) -> int:
    """Tokens of the instructions, every message (with a fixed overhead each) and the tools'
    definitions."""
    messages = sum(_message_tokens(m) + MESSAGE_OVERHEAD_TOKENS for m in request.messages)
    tools = estimate_tokens(_json([_definition(t) for t in request.tools])) if request.tools else 0
    return estimate_tokens(request.instructions) + messages + tools


def _message_tokens(message: ChatMessage) -> int:
    calls = [{"name": c.name, "arguments": c.arguments} for c in message.tool_calls]
    results = [r.content for r in message.tool_results]
    return estimate_tokens(message.text) + (
        estimate_tokens(_json([calls, results])) if calls or results else 0
    )


def _definition(tool: Tool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "parameters": tool.parameters}


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


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


def offline_tool_call(request: CompletionRequest) -> ToolCall:
    """The call of the tool `tool_choice` names ("any": the last tool) with its offline
    arguments; ids count the calls of the conversation (`offline-1`, `offline-2`...)."""
    if request.tool_choice == "any":
        tool = request.tools[-1]
    else:
        named = [t for t in request.tools if t.name == request.tool_choice]
        if not named:
            raise ValueError(f"tool_choice {request.tool_choice!r} names none of the tools.")
        tool = named[0]
    number = 1 + sum(len(m.tool_calls) for m in request.messages)
    return ToolCall(id=f"offline-{number}", name=tool.name, arguments=dict(tool.offline_arguments))


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
        if request.tools and request.tool_choice != "auto":
            call = offline_tool_call(request)
            return Completion(
                text="",
                input_tokens=estimate_input_tokens(request),
                output_tokens=estimate_tokens(_json(call.arguments)),
                provider=self.name,
                model=self.model,
                tool_calls=(call,),
            )
        text = offline_reply(request)
        return Completion(
            text=text,
            input_tokens=estimate_input_tokens(request),
            output_tokens=estimate_tokens(text),
            provider=self.name,
            model=self.model,
        )
