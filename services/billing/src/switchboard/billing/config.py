"""Billing settings (prefix `SWITCHBOARD_BILLING_`)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from switchboard.common.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_BILLING_", extra="ignore")

    http_port: int = 8083
    worker_port: int = 9083
    sms_segment_price: Decimal = Field(default=Decimal("0.0079"), ge=0)
    """Rate card: what one SMS segment costs when the provider does not say."""
    rate_card_currency: str = Field(default="USD", min_length=3, max_length=3)
