"""Anthropic's Messages API through the official SDK."""

from __future__ import annotations

from typing import cast

import anthropic
from anthropic.types import MessageParam

from switchboard.llm.errors import sdk_error
from switchboard.llm.provider import Completion, CompletionRequest, Named


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
        messages = [
            cast(MessageParam, {"role": m.role, "content": m.text}) for m in request.messages
        ]
        try:
            response = await self._client.messages.create(
                model=self._model,
                max_tokens=request.max_output_tokens,
                system=request.instructions,
                messages=messages,
            )
        except (anthropic.APIStatusError, anthropic.APIConnectionError) as exc:  # timeouts included
            raise sdk_error(self._name, exc) from exc
        text = "".join(block.text for block in response.content if block.type == "text")
        return Completion(
            text=text,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            provider=self._name,
            model=self._model,
        )

    async def close(self) -> None:
        await self._client.close()
