"""Campaigns settings (prefix `SWITCHBOARD_CAMPAIGNS_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from switchboard.common.settings import ServiceSettings


class CampaignsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_CAMPAIGNS_", extra="ignore")

    http_port: int = 8082
    worker_port: int = 9082
