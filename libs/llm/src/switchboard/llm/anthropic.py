"""Anthropic's Messages API through the official SDK."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import anthropic
from anthropic.types import (
    ContentBlockParam,
    MessageParam,
    ToolChoiceParam,
    ToolParam,
)

from switchboard.llm.errors import sdk_error
from switchboard.llm.provider import (
    ChatMessage,
    Completion,
    CompletionRequest,
    Named,
    Tool,
    ToolCall,
)


class AnthropicProvider(Named):
    """Claude models. Retries are the fallback chain's, not the SDK's (`max_retries=0`)."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        name: str = "anthropic",
    ) -> None:
        super().__init__(name, model)
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        messages = [_message(m) for m in request.messages]
        tools: list[ToolParam] | anthropic.Omit = anthropic.omit
        tool_choice: ToolChoiceParam | anthropic.Omit = anthropic.omit
        if request.tools:
            tools = [_tool(t) for t in request.tools]
            tool_choice = _tool_choice(request.tool_choice)
        try:
            response = await self._client.messages.create(
                model=self._model,
                max_tokens=request.max_output_tokens,
                system=request.instructions,
                messages=messages,
                tools=tools,
                tool_choice=tool_choice,
            )
        except (anthropic.APIStatusError, anthropic.APIConnectionError) as exc:  # timeouts included
            raise sdk_error(self._name, exc) from exc
        text = "".join(block.text for block in response.content if block.type == "text")
        calls = tuple(
            ToolCall(id=block.id, name=block.name, arguments=dict(block.input))
            for block in response.content
            if block.type == "tool_use"
        )
        return Completion(
            text=text,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            provider=self._name,
            model=self._model,
            tool_calls=calls,
        )

    async def close(self) -> None:
        await self._client.close()


def _tool(tool: Tool) -> ToolParam:
    return {
        "name": tool.name,
        "description": tool.description,
        "input_schema": dict(tool.parameters),
    }


def _tool_choice(choice: str) -> ToolChoiceParam:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "any":
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def _message(message: ChatMessage) -> MessageParam:
    """A plain turn as a string; one with tool calls or results as content blocks (results
    first, as the API wants them, then text, then calls)."""
    if not message.tool_calls and not message.tool_results:
        return cast(MessageParam, {"role": message.role, "content": message.text})
    blocks: list[ContentBlockParam] = [
        {
            "type": "tool_result",
            "tool_use_id": result.call_id,
            "content": result.content,
            "is_error": result.is_error,
        }
        for result in message.tool_results
    ]
    if message.text:
        blocks.append({"type": "text", "text": message.text})
    blocks += [
        {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call.arguments)}
        for call in message.tool_calls
    ]
    return cast(MessageParam, {"role": message.role, "content": blocks})


def _input(arguments: Mapping[str, Any] | str) -> dict[str, object]:
    """A call's arguments as the object the API wants: raw text (another provider's malformed
    arguments) is parsed if it is a JSON object, else sent as no arguments."""
    if not isinstance(arguments, str):
        return dict(arguments)
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return {}
    return dict(parsed) if isinstance(parsed, dict) else {}
