"""Campaigns settings (prefix `SWITCHBOARD_CAMPAIGNS_`)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from switchboard.common.settings import ServiceSettings
from switchboard.llm import ModelPrice, ProviderConfig


def _default_prices() -> dict[str, ModelPrice]:
    return {"offline": ModelPrice(input_per_million=Decimal(0), output_per_million=Decimal(0))}


class CampaignsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_CAMPAIGNS_", extra="ignore")

    http_port: int = 8082
    worker_port: int = 9082
    llm_chain: list[ProviderConfig] = []
    """The agent's models, tried in order (JSON in the environment, as the conversation
    service's); none: the offline provider."""
    llm_prices: dict[str, ModelPrice] = Field(default_factory=_default_prices)
    """USD per million input and output tokens, by model; every model of the chain needs one."""
    llm_retries: int = Field(default=2, ge=0, le=10)
    llm_backoff_seconds: float = Field(default=0.5, ge=0)
    agent_concurrency: int = Field(default=32, ge=1, le=1000)
    """Decisions the agent works on at once per worker (model calls in flight)."""
    agent_max_rounds: int = Field(default=4, ge=1, le=10)
    """Model calls per decision at most: tool rounds, then `decide` is forced."""
