"""Metrics settings (prefix `SWITCHBOARD_METRICS_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from switchboard.common.settings import ServiceSettings


class MetricsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_METRICS_", extra="ignore")

    http_port: int = 8084
    worker_port: int = 9084
    hourly_max_days: int = 31
    """The longest window `GET /v1/analytics/hourly` answers, to keep responses small."""
