"""Gateway settings (prefix `SWITCHBOARD_GATEWAY_`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from switchboard.common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_GATEWAY_", extra="ignore")

    http_port: int = 8080
    worker_port: int = 9080
    public_url: str = "http://127.0.0.1:8080"
    """Base URL the providers call; Twilio signs requests against it."""
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = []
    """Proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-Proto`, `-Host` and
    `-Port` name the URL a provider called; from anyone else those headers are ignored."""
    credentials_key: SecretStr
    """Fernet key that encrypts provider credentials at rest."""
    twilio_api_url: str = "https://api.twilio.com"
    dispatch_concurrency: int = 64
    dispatch_max_attempts: int = 5
    pacing: bool = True
    """Keep each number to its sending rate (never applies to the sandbox, which sends at once)."""
    send_rates: dict[str, float] = {}
    """Messages per second by number type, over the defaults: long_code 1, toll_free 3,
    short_code 100, whatsapp 80 (JSON, e.g. `{"long_code": 0.5}`)."""
    sending_timeout_seconds: float = Field(default=600.0, gt=0)
    """A send whose outcome is unknown (the dispatcher stopped mid-call) and that no status
    callback has settled by then is marked failed with `outcome_unknown`; never sent again."""
    sender_cache_seconds: float = 5.0
    inbound_commits: int = Field(default=4, ge=1)
    """Webhook receipts written at once per HTTP process; later arrivals join the next commit."""
    default_transport: Literal["sandbox", "provider", "twilio"] = "sandbox"
    """`sandbox` keeps every outbound message; `provider` (or `twilio`, its older name) sends each
    through its sender number's provider."""
    meta_api_url: str = "https://graph.facebook.com"
    meta_api_version: str = "v21.0"
    meta_verify_token: SecretStr | None = None
    """Token Meta echoes in the webhook subscription handshake (`hub.verify_token`)."""
    webhook_allow_private_targets: bool = False
    """Let partner webhooks reach private, loopback and link-local addresses (tests, labs)."""
    webhook_allow_http: bool = False
    """Let partner webhook endpoints use plain http (https is required otherwise)."""
    webhook_concurrency: int = Field(default=256, ge=1)
    """Partner webhook requests in flight per worker."""
    webhook_endpoint_concurrency: int = Field(default=16, ge=1)
    """Requests in flight per partner endpoint, so one slow endpoint cannot take every slot."""
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
