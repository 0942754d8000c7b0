"""The campaigns HTTP app: business events in, and the contacts campaigns can reach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from switchboard.campaigns.config import CampaignsSettings
from switchboard.campaigns.contacts.endpoints import router as contacts
from switchboard.campaigns.events.endpoints import router as events
from switchboard.common.auth import KeyVerifier, TenantsReplica
from switchboard.common.db import Database
from switchboard.common.http import create_app as create_service_app
from switchboard.common.runtime import cancel_all, database_check, event_check, supervise
from switchboard.common.settings import PlatformSettings
from switchboard.common.telemetry import configure_logging, configure_tracing


def create_app(
    settings: CampaignsSettings | None = None, platform: PlatformSettings | None = None
) -> FastAPI:
    platform = platform or PlatformSettings()
    settings = settings or CampaignsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("campaigns", platform)
        configure_tracing("campaigns", platform)
        db = Database(
            platform.database_url,
            pool_size=platform.database_pool_size,
            application_name="campaigns-http",
        )
        # API keys are the gateway's: this service checks them against its copy of `tenants`.
        replica = TenantsReplica(platform.kafka_bootstrap_servers, client_id="campaigns-http")
        admin_key = platform.admin_key.get_secret_value() if platform.admin_key else None
        app.state.settings = settings
        app.state.db = db
        app.state.verifier = KeyVerifier(replica, admin_key)
        app.state.readiness = {
            "database": database_check(db),
            "tenants": event_check(replica.caught_up),
        }
        tasks = [supervise("tenants-replica", replica.run())]
        try:
            yield
        finally:
            await cancel_all(tasks)
            await db.dispose()

    return create_service_app(
        service="campaigns",
        title="Switchboard campaigns",
        description="Business events, and later the rules and campaigns they trigger.",
        lifespan=lifespan,
        routers=[events, contacts],
    )
