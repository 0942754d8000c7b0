"""Billing's HTTP app: usage totals and the ledger, plans, subscriptions and quotas, and
payments through Stripe (Checkout, the portal, invoices, family lines, webhooks)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from switchboard.billing.config import BillingSettings
from switchboard.billing.payments.endpoints import router as payments
from switchboard.billing.payments.service import Payments
from switchboard.billing.payments.stripe_api import StripeGateway
from switchboard.billing.payments.webhooks import StripeEvents
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

    app = create_service_app(
        service="billing",
        platform=platform,
        title="Switchboard billing",
        description="Usage and cost per tenant, counted once per billable fact; plans, who is on "
        "which, and the quotas they leave (published to the other services as entitlements).",
        lifespan=replica_lifespan("billing", platform, settings),
        routers=[usage, plans, subscriptions, payments],
    )
    if settings.stripe_api_key is not None:
        gateway = StripeGateway(
            settings.stripe_api_key.get_secret_value(), api_base=settings.stripe_api_base
        )
        app.state.payments = Payments(gateway, settings.stripe_return_url)
    app.state.stripe_events = StripeEvents(grace=timedelta(days=settings.grace_days))
    app.state.stripe_webhook_secrets = [
        secret.get_secret_value() for secret in settings.stripe_webhook_secrets
    ]
    app.state.stripe_webhook_tolerance = settings.stripe_webhook_tolerance_seconds
    return app
