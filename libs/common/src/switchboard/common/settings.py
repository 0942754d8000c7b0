"""Platform-wide settings, shared by every service (prefix `SWITCHBOARD_`)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    """What every process needs: where Postgres and Kafka are, the bootstrap key, telemetry."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/switchboard"
    database_pool_size: int = 10
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    admin_key: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    otlp_endpoint: str | None = None
    environment: str = "development"


class ServiceSettings(BaseSettings):
    """Settings every service has; each service subclasses it with its own `env_prefix`."""

    model_config = SettingsConfigDict(extra="ignore")

    http_host: str = "0.0.0.0"  # noqa: S104 - containers listen on every interface
    http_port: int = 8000
    http_workers: int = 1
    worker_port: int = 9000
