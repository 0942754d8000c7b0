"""What the endpoints get from the app: Stripe (as configured, or a test's fake)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from switchboard.billing.payments.service import Payments
from switchboard.billing.payments.webhooks import StripeEvents
from switchboard.common.errors import Unavailable


def get_payments(request: Request) -> Payments | None:
    """Stripe as configured in `app.state` (None: not configured)."""
    payments: Payments | None = getattr(request.app.state, "payments", None)
    return payments


def get_stripe_events(request: Request) -> StripeEvents:
    events: StripeEvents = request.app.state.stripe_events
    return events


OptionalPayments = Annotated[Payments | None, Depends(get_payments)]
Events = Annotated[StripeEvents, Depends(get_stripe_events)]


def required(payments: Payments | None) -> Payments:
    if payments is None:
        raise Unavailable("Stripe is not configured (SWITCHBOARD_BILLING_STRIPE_API_KEY).")
    return payments
