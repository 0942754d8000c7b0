"""Billing's HTTP app: usage totals and the usage ledger."""

from __future__ import annotations

from fastapi import FastAPI

from switchboard.billing.config import BillingSettings
from switchboard.billing.plans.endpoints import router as plans
from switchboard.billing.quotas.endpoints import router as subscriptions
from switchboard.billing.usage.endpoints import router as usage
from switchboard.common.http import create_app as create_service_app
from switchboard.common.runtime import replica_lifespan
from switchboard.common.settings import PlatformSettings


def create_app(
    settings: BillingSettings | None = None, platform: PlatformSettings | None = None
) -> FastAPI:
    platform = platform or PlatformSettings()
    settings = settings or BillingSettings()

    return create_service_app(
        service="billing",
        platform=platform,
        title="Switchboard billing",
        description="Usage and cost per tenant, counted once per billable fact; plans, who is on "
        "which, and the quotas they leave (published to the other services as entitlements).",
        lifespan=replica_lifespan("billing", platform, settings),
        routers=[usage, plans, subscriptions],
    )
