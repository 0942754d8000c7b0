"""Gateway settings (prefix `SWITCHBOARD_GATEWAY_`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from switchboard.common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_GATEWAY_", extra="ignore")

    http_port: int = 8080
    worker_port: int = 9080
    public_url: str = "http://127.0.0.1:8080"
    """Base URL the providers call; Twilio signs requests against it."""
    credentials_key: SecretStr
    """Fernet key that encrypts provider credentials at rest."""
    twilio_api_url: str = "https://api.twilio.com"
    dispatch_concurrency: int = 64
    dispatch_max_attempts: int = 5
    sender_cache_seconds: float = 5.0
    inbound_commits: int = Field(default=4, ge=1)
    """Webhook receipts written at once per HTTP process; later arrivals join the next commit."""
    default_transport: Literal["sandbox", "twilio"] = "sandbox"
