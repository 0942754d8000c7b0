"""Conversation settings (prefix `SWITCHBOARD_CONVERSATION_`)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from switchboard.common.settings import ServiceSettings
from switchboard.contracts import LlmPurpose
from switchboard.llm import ModelPrice, ProviderConfig, ProviderName


def _default_prices() -> dict[str, ModelPrice]:
    return {"offline": ModelPrice(input_per_million=Decimal(0), output_per_million=Decimal(0))}


class ConversationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_CONVERSATION_", extra="ignore")

    http_port: int = 8081
    worker_port: int = 9081
    llm_provider: ProviderName = "offline"
    """Which model answers contacts when no chain is set; `offline` needs no key and no network."""
    llm_chain: list[ProviderConfig] = []
    """Every model the platform may use, in the order tried by default (JSON), e.g.
    `[{"provider": "anthropic", "model": "claude-sonnet-4-5", "api_key": "..."},
    {"provider": "openai", "model": "gpt-4.1-mini", "api_key": "..."}]`. Each is known by its
    `name` (default: its provider); routes pick from them by that name."""
    llm_routes: dict[LlmPurpose, list[str]] = {}
    """The platform's route per purpose (`chat`, `summary`, `moderation`, `composition`): provider
    names in order (JSON). A purpose without one uses the whole chain; tenants may set their own."""
    llm_prices: dict[str, ModelPrice] = Field(default_factory=_default_prices)
    """USD per million input and output tokens, by model (JSON in the environment)."""
    llm_max_output_tokens: int = Field(default=300, ge=1)
    llm_retries: int = Field(default=2, ge=0, le=10)
    """More tries of one provider after a retryable error (timeout, 429, 5xx) before the next."""
    llm_backoff_seconds: float = Field(default=0.5, ge=0)
    """The wait before the first retry; each further retry waits twice as long."""
    llm_breaker_failures: int = Field(default=5, ge=1)
    """Failures in a row after which a provider is skipped without a call..."""
    llm_breaker_cooldown_seconds: float = Field(default=30.0, ge=0)
    """...for this long; the first call after it tries the provider again."""
    context_turns: int = Field(default=20, ge=0)
    """How many earlier turns the model sees word for word; older ones are summarised."""
    tenant_cache_seconds: float = Field(default=2.0, ge=0)
    """How long a worker reuses a tenant's settings, personas and AI switches before reading them
    again (0: every message). A kill switch still stops a model's reply at once: the switches
    are read again in the transaction that would record it."""
    memory_token_budget: int = Field(default=1500, ge=100)
    """The most tokens (estimated) of verbatim turns the model sees before older ones are folded
    into the conversation's summary."""

    def provider_names(self) -> list[str]:
        """The names routes may use, in chain order."""
        if not self.llm_chain:
            return [self.llm_provider]
        return [config.name or config.provider for config in self.llm_chain]
