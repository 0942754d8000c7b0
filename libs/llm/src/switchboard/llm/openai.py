"""OpenAI's Chat Completions API through the official SDK, and any endpoint that speaks it
(Ollama, vLLM, Groq...) by base URL."""

from __future__ import annotations

import openai

from switchboard.llm.errors import sdk_error
from switchboard.llm.provider import Completion, CompletionRequest, Named


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
        messages = [{"role": "system", "content": request.instructions}]
        messages += [{"role": m.role, "content": m.text} for m in request.messages]
        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=messages,  # type: ignore[arg-type]  # the SDK's TypedDict union
                max_tokens=request.max_output_tokens,
            )
        except (openai.APIStatusError, openai.APIConnectionError) as exc:  # timeouts included
            raise sdk_error(self._name, exc) from exc
        usage = response.usage
        return Completion(
            text=response.choices[0].message.content or "" if response.choices else "",
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            provider=self._name,
            model=self._model,
        )

    async def close(self) -> None:
        await self._client.close()
