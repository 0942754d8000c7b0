"""Language models behind one small protocol, chosen by configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from switchboard.llm.anthropic import AnthropicProvider
from switchboard.llm.errors import AllProvidersFailed, ProviderError
from switchboard.llm.fallback import FallbackChain
from switchboard.llm.offline import OfflineProvider
from switchboard.llm.openai import OpenAIProvider
from switchboard.llm.pricing import ModelPrice, PriceTable, UnpricedModelError
from switchboard.llm.provider import (
    ChatMessage,
    Completion,
    CompletionRequest,
    LLMProvider,
    Role,
    Tool,
    ToolCall,
    ToolResult,
)

ProviderName = Literal["offline"]
ProviderKind = Literal["offline", "anthropic", "openai", "openai_compatible"]


class ProviderConfig(BaseModel):
    """One link of a fallback chain, as a service configures it (conversation: JSON in
    `SWITCHBOARD_CONVERSATION_LLM_CHAIN`)."""

    provider: ProviderKind
    model: str = Field(default="offline", min_length=1)
    base_url: str | None = Field(
        default=None, description="An OpenAI-compatible endpoint (Ollama, vLLM, Groq...)."
    )
    api_key: SecretStr | None = None
    name: str | None = Field(default=None, description="A label for usage and logs.")
    timeout_seconds: float = Field(default=30.0, gt=0)
    latency_seconds: float = Field(
        default=0.0,
        ge=0,
        description="The offline provider only: how long each answer takes, to load-test with "
        "a model's latency and no model.",
    )


def create_provider(name: ProviderName) -> LLMProvider:
    """The provider configured by name (only the offline one exists so far)."""
    if name == "offline":
        return OfflineProvider()
    raise ValueError(f"Unknown LLM provider {name!r}.")


def create_chain(configs: list[ProviderConfig]) -> LLMProvider:
    """The providers of `configs`, tried in order (a single one still gets retries)."""
    return FallbackChain(create_providers(configs))


def create_providers(configs: list[ProviderConfig]) -> list[LLMProvider]:
    """One client per configured provider, each known by its `name` (default: its kind)."""
    return [_provider(config) for config in configs]


def _provider(config: ProviderConfig) -> LLMProvider:
    if config.provider == "offline":
        return OfflineProvider(latency_seconds=config.latency_seconds)
    if config.api_key is None and config.provider != "openai_compatible":
        raise ValueError(f"The {config.provider} provider needs an `api_key`.")
    key = config.api_key.get_secret_value() if config.api_key else "none"
    if config.provider == "anthropic":
        return AnthropicProvider(
            config.model,
            api_key=key,
            base_url=config.base_url,
            timeout=config.timeout_seconds,
            name=config.name or "anthropic",
        )
    if config.provider == "openai_compatible" and config.base_url is None:
        raise ValueError("An OpenAI-compatible provider needs its `base_url`.")
    return OpenAIProvider(
        config.model,
        api_key=key,
        base_url=config.base_url,
        timeout=config.timeout_seconds,
        name=config.name or config.provider,
    )


__all__ = [
    "AllProvidersFailed",
    "AnthropicProvider",
    "ChatMessage",
    "Completion",
    "CompletionRequest",
    "FallbackChain",
    "LLMProvider",
    "ModelPrice",
    "OfflineProvider",
    "OpenAIProvider",
    "PriceTable",
    "ProviderConfig",
    "ProviderError",
    "ProviderKind",
    "ProviderName",
    "Role",
    "Tool",
    "ToolCall",
    "ToolResult",
    "UnpricedModelError",
    "create_chain",
    "create_provider",
    "create_providers",
]
