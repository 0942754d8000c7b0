"""Language models behind one small protocol, chosen by configuration."""

from __future__ import annotations

from typing import Literal

from switchboard.conversation.llm.offline import OfflineProvider
from switchboard.conversation.llm.pricing import ModelPrice, PriceTable, UnpricedModelError
from switchboard.conversation.llm.provider import (
    ChatMessage,
    Completion,
    CompletionRequest,
    LLMProvider,
    Role,
)

ProviderName = Literal["offline"]


def create_provider(name: ProviderName) -> LLMProvider:
    """The provider configured by name (only the offline one exists so far)."""
    if name == "offline":
        return OfflineProvider()
    raise ValueError(f"Unknown LLM provider {name!r}.")


__all__ = [
    "ChatMessage",
    "Completion",
    "CompletionRequest",
    "LLMProvider",
    "ModelPrice",
    "OfflineProvider",
    "PriceTable",
    "ProviderName",
    "Role",
    "UnpricedModelError",
    "create_provider",
]
