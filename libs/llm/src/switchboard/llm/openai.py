"""OpenAI's Chat Completions API through the official SDK, and any endpoint that speaks it
(Ollama, vLLM, Groq...) by base URL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import openai
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionToolChoiceOptionParam,
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


class OpenAIProvider(Named):
    """Retries are the fallback chain's, not the SDK's (`max_retries=0`)."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        name: str = "openai",
    ) -> None:
        super().__init__(name, model)
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": request.instructions}
        ]
        for message in request.messages:
            messages += _messages(message)
        tools: list[ChatCompletionFunctionToolParam] | openai.Omit = openai.omit
        tool_choice: ChatCompletionToolChoiceOptionParam | openai.Omit = openai.omit
        if request.tools:
            tools = [_tool(t) for t in request.tools]
            tool_choice = _tool_choice(request.tool_choice)
        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=messages,
                max_tokens=request.max_output_tokens,
                tools=tools,
                tool_choice=tool_choice,
            )
        except (openai.APIStatusError, openai.APIConnectionError) as exc:  # timeouts included
            raise sdk_error(self._name, exc) from exc
        usage = response.usage
        answer = response.choices[0].message if response.choices else None
        return Completion(
            text=answer.content or "" if answer else "",
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            provider=self._name,
            model=self._model,
            tool_calls=_tool_calls(answer) if answer else (),
        )

    async def close(self) -> None:
        await self._client.close()


def _tool(tool: Tool) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": dict(tool.parameters),
        },
    }


def _tool_choice(choice: str) -> ChatCompletionToolChoiceOptionParam:
    if choice == "auto":
        return "auto"
    if choice == "any":
        return "required"
    return {"type": "function", "function": {"name": choice}}


def _messages(message: ChatMessage) -> list[ChatCompletionMessageParam]:
    """One turn as the API's messages: tool results are `tool` messages of their own (then the
    turn's text, if any, as a user message); an assistant turn carries its calls."""
    if message.tool_results:
        results: list[ChatCompletionMessageParam] = [
            {"role": "tool", "tool_call_id": result.call_id, "content": result.content}
            for result in message.tool_results
        ]
        if message.text:
            results.append(_plain(message))
        return results
    if message.tool_calls:
        calls: list[ChatCompletionMessageFunctionToolCallParam] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": _arguments(call.arguments)},
            }
            for call in message.tool_calls
        ]
        return [{"role": "assistant", "content": message.text or None, "tool_calls": calls}]
    return [_plain(message)]


def _plain(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "assistant":
        return {"role": "assistant", "content": message.text}
    return {"role": "user", "content": message.text}


def _arguments(arguments: Mapping[str, Any] | str) -> str:
    """Raw text (as the model gave it) is sent back as it was."""
    return arguments if isinstance(arguments, str) else json.dumps(dict(arguments))


def _tool_calls(message: ChatCompletionMessage) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall(id=call.id, name=call.function.name, arguments=_parsed(call.function.arguments))
        for call in message.tool_calls or ()
        if isinstance(call, ChatCompletionMessageFunctionToolCall)
    )


def _parsed(arguments: str) -> Mapping[str, Any] | str:
    """The arguments' JSON object, or their raw text when they are not one."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments
    return parsed if isinstance(parsed, dict) else arguments
