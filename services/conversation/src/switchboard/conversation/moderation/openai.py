"""OpenAI's moderation endpoint through the official SDK.

Free to call with any OpenAI key, multilingual, and scored per category; it catches what the
local rules cannot (paraphrase, other languages, slurs). Its categories are mapped onto ours;
one this code does not know yet is reported as `other` rather than dropped.
"""

from __future__ import annotations

import openai
from openai.types import Moderation

from switchboard.conversation.moderation.verdict import Category, Finding
from switchboard.llm.errors import ProviderError, sdk_error

DEFAULT_MODEL = "omni-moderation-latest"

_CATEGORIES: dict[str, tuple[Category, ...]] = {
    "harassment": (Category.HARASSMENT,),
    "harassment/threatening": (Category.HARASSMENT, Category.VIOLENCE),
    "hate": (Category.HATE,),
    "hate/threatening": (Category.HATE, Category.VIOLENCE),
    "illicit": (Category.ILLICIT,),
    "illicit/violent": (Category.ILLICIT, Category.VIOLENCE),
    "self-harm": (Category.SELF_HARM,),
    "self-harm/intent": (Category.SELF_HARM,),
    "self-harm/instructions": (Category.SELF_HARM,),
    "sexual": (Category.SEXUAL,),
    "sexual/minors": (Category.SEXUAL_MINORS,),
    "violence": (Category.VIOLENCE,),
    "violence/graphic": (Category.VIOLENCE,),
}


class OpenAIModeration:
    """One call per text, no retries (`max_retries=0`): it runs before a reply is sent, so a
    failure is raised at once as `ProviderError` for the caller to fail open on."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        timeout: float = 5.0,
        name: str = "openai",
    ) -> None:
        self.name = name
        self.model = model
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    async def check(self, text: str) -> tuple[Finding, ...]:
        """A finding per category the model flagged `text` for; none if it flagged nothing."""
        try:
            response = await self._client.moderations.create(input=text, model=self.model)
        except (openai.APIStatusError, openai.APIConnectionError) as exc:  # timeouts included
            raise sdk_error(self.name, exc) from exc
        if not response.results:
            raise ProviderError(self.name, "answered with no result", retryable=True)
        return self._findings(response.results[0])

    def _findings(self, result: Moderation) -> tuple[Finding, ...]:
        flags = result.categories.model_dump(by_alias=True)
        scores = result.category_scores.model_dump(by_alias=True)
        findings = []
        for key, flagged in flags.items():
            if flagged is not True:
                continue
            score = scores.get(key)
            reason = f"{key} ({score:.2f})" if isinstance(score, float) else key
            for category in _CATEGORIES.get(key, (Category.OTHER,)):
                findings.append(Finding(category, self.name, reason))
        if result.flagged and not findings:  # the overall flag is the API's verdict
            findings.append(Finding(Category.OTHER, self.name, "flagged"))
        return tuple(findings)

    async def close(self) -> None:
        await self._client.close()
