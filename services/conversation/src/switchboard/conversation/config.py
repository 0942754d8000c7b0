"""Conversation settings (prefix `SWITCHBOARD_CONVERSATION_`)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from switchboard.common.settings import ServiceSettings
from switchboard.conversation.llm import ModelPrice, ProviderConfig, ProviderName


def _default_prices() -> dict[str, ModelPrice]:
    return {"offline": ModelPrice(input_per_million=Decimal(0), output_per_million=Decimal(0))}


class ConversationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_CONVERSATION_", extra="ignore")

    http_port: int = 8081
    worker_port: int = 9081
    llm_provider: ProviderName = "offline"
    """Which model answers contacts when no chain is set; `offline` needs no key and no network."""
    llm_chain: list[ProviderConfig] = []
    """Providers tried in order, each with retries, then the next (JSON), e.g.
    `[{"provider": "anthropic", "model": "claude-sonnet-4-5", "api_key": "..."},
    {"provider": "openai", "model": "gpt-4.1-mini", "api_key": "..."}]`."""
    llm_prices: dict[str, ModelPrice] = Field(default_factory=_default_prices)
    """USD per million input and output tokens, by model (JSON in the environment)."""
    llm_max_output_tokens: int = Field(default=300, ge=1)
    context_turns: int = Field(default=20, ge=0)
    """How many earlier turns of the conversation the model sees."""
    assistant_instructions: str = (
        "You are a business's assistant answering customers by text message. "
        "Be brief, friendly and accurate; say so when you do not know."
    )
