"""The gateway's HTTP app: provider webhooks, tenants and keys, numbers, messages, sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from switchboard.common.auth import KeyVerifier
from switchboard.common.db import Database, asyncpg_dsn
from switchboard.common.http import create_app as create_service_app
from switchboard.common.settings import PlatformSettings
from switchboard.gateway.compliance.endpoints import router as compliance
from switchboard.gateway.compliance.inbound import ComplianceInbox
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.crypto import CredentialCipher
from switchboard.gateway.inbound.endpoints import router as webhooks
from switchboard.gateway.inbound.lane import TwilioInboundLane
from switchboard.gateway.inbound.recorder import InboundRecorder
from switchboard.gateway.meta.endpoints import router as meta_webhooks
from switchboard.gateway.numbers.endpoints import router as numbers
from switchboard.gateway.numbers.service import SenderDirectory
from switchboard.gateway.outbound.endpoints import router as messages
from switchboard.gateway.partners.endpoints import router as partner_webhooks
from switchboard.gateway.sandbox.endpoints import router as sandbox
from switchboard.gateway.tenants.endpoints import router as tenants
from switchboard.gateway.tenants.service import DatabaseKeyStore


def create_app(
    settings: GatewaySettings | None = None, platform: PlatformSettings | None = None
) -> FastAPI:
    platform = platform or PlatformSettings()
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            platform.database_url,
            pool_size=platform.database_pool_size,
            application_name="gateway-http",
        )
        cipher = CredentialCipher(settings.credentials_key.get_secret_value())
        admin_key = platform.admin_key.get_secret_value() if platform.admin_key else None
        app.state.settings = settings
        app.state.db = db
        app.state.cipher = cipher
        app.state.senders = SenderDirectory(db, cipher, ttl=settings.sender_cache_seconds)
        app.state.verifier = KeyVerifier(DatabaseKeyStore(db), admin_key)
        app.state.compliance = ComplianceInbox(db, ttl=settings.sender_cache_seconds)
        # The webhook's hot path writes through asyncpg directly, with group commit.
        pool = await asyncpg.create_pool(
            asyncpg_dsn(platform.database_url),
            min_size=0,
            max_size=platform.database_pool_size,
            server_settings={"application_name": "gateway-webhooks"},
        )
        app.state.inbound = InboundRecorder(pool, max_flushes=settings.inbound_commits)
        app.state.readiness = {"database": db.ping}
        try:
            yield
        finally:
            await pool.close()
            await db.dispose()

    app = create_service_app(
        service="gateway",
        platform=platform,
        title="Switchboard gateway",
        description="Provider webhooks, tenants and API keys, sender numbers, messages.",
        lifespan=lifespan,
        routers=[
            webhooks,
            meta_webhooks,
            tenants,
            numbers,
            messages,
            sandbox,
            compliance,
            partner_webhooks,
        ],
    )
    app.add_middleware(TwilioInboundLane)
    return app
