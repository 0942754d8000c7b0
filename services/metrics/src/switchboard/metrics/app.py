"""Metrics' HTTP app: per-tenant analytics from the hourly rollups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from switchboard.common.auth import KeyVerifier, TenantsReplica
from switchboard.common.db import Database
from switchboard.common.http import create_app as create_service_app
from switchboard.common.runtime import cancel_all, event_check, supervise
from switchboard.common.settings import PlatformSettings
from switchboard.common.telemetry import configure_logging, configure_tracing
from switchboard.metrics.analytics.endpoints import router as analytics
from switchboard.metrics.config import MetricsSettings


def create_app(
    settings: MetricsSettings | None = None, platform: PlatformSettings | None = None
) -> FastAPI:
    platform = platform or PlatformSettings()
    settings = settings or MetricsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("metrics", platform)
        configure_tracing("metrics", platform)
        db = Database(
            platform.database_url,
            pool_size=platform.database_pool_size,
            application_name="metrics-http",
        )
        replica = TenantsReplica(platform.kafka_bootstrap_servers, client_id="metrics-tenants")
        admin_key = platform.admin_key.get_secret_value() if platform.admin_key else None
        app.state.settings = settings
        app.state.db = db
        app.state.verifier = KeyVerifier(replica, admin_key)
        app.state.readiness = {"database": db.ping, "tenants": event_check(replica.caught_up)}
        tasks = [supervise("tenants-replica", replica.run())]
        try:
            yield
        finally:
            await cancel_all(tasks)
            await db.dispose()

    return create_service_app(
        service="metrics",
        title="Switchboard metrics",
        description="Per-tenant analytics: messages, delivery, opt-outs, LLM tokens and cost.",
        lifespan=lifespan,
        routers=[analytics],
    )
