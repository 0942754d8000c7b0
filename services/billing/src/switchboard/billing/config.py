"""Billing settings (prefix `SWITCHBOARD_BILLING_`)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from switchboard.common.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_BILLING_", extra="ignore")

    http_port: int = 8083
    worker_port: int = 9083
    sms_segment_price: Decimal = Field(default=Decimal("0.0079"), ge=0)
    """Rate card: what one SMS segment costs when the provider does not say."""
    rate_card_currency: str = Field(default="USD", min_length=3, max_length=3)
    stripe_api_key: SecretStr | None = None
    """Stripe's secret key; none: subscriptions are set through the API only, no Checkout."""
    stripe_api_base: str | None = None
    """Another address for Stripe's API (a proxy, or a local fake in tests)."""
    stripe_webhook_secrets: list[SecretStr] = []
    """The webhook endpoint's signing secrets (JSON list): several while one is rotated."""
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1)
    """How old a webhook's signature may be (replays older than this are refused)."""
    stripe_return_url: str = "http://localhost:8083/v1/plans"
    """Where Checkout and the customer portal send the customer back to."""
    stripe_meter_event: str = "switchboard_messages"
    """The Stripe meter's event name that overage messages are reported under."""
    grace_days: int = Field(default=7, ge=0, le=60)
    """After a failed payment, how long the subscriber is still served before suspension."""
