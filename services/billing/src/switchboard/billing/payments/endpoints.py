"""Payments API: Stripe Checkout and the customer portal, invoices, a family's lines, and the
webhook Stripe calls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import stripe
import structlog
from fastapi import APIRouter, Path, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.models import Subscription
from switchboard.billing.payments import service as payments_service
from switchboard.billing.payments.deps import Events, OptionalPayments, required
from switchboard.billing.payments.schemas import (
    CheckoutCreate,
    CheckoutRead,
    InvoiceRead,
    LineCreate,
    PortalCreate,
    PortalRead,
)
from switchboard.billing.quotas.endpoints import Address, read_subscription
from switchboard.billing.quotas.schemas import E164, QuotaRead, SubscriptionRead
from switchboard.billing.quotas.subscriptions import end, subscription_service
from switchboard.common.errors import BadRequest, NotFound, Unavailable
from switchboard.common.http import CurrentPrincipal, DbSession

log = structlog.get_logger(__name__)

router = APIRouter(tags=["payments"])


@router.post("/v1/checkout", response_model=CheckoutRead, status_code=status.HTTP_201_CREATED)
async def create_checkout(
    body: CheckoutCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    payments: OptionalPayments,
) -> CheckoutRead:
    """A Stripe Checkout link for the tenant's own plan or an end user's (texted to them with
    `send_link`); paying it starts the subscription."""
    principal.require("tenant:admin")
    checkout = await payments_service.checkout(
        session,
        required(payments),
        principal.tenant(),
        body.contact_address or "",
        body.plan,
        quantity=body.lines,
        send_link=body.send_link,
    )
    return CheckoutRead.model_validate(checkout)


@router.post("/v1/billing-portal", response_model=PortalRead)
async def create_portal_session(
    principal: CurrentPrincipal,
    session: DbSession,
    payments: OptionalPayments,
    body: PortalCreate | None = None,
) -> PortalRead:
    """A link to Stripe's customer portal: payment methods, invoices, cancellation."""
    principal.require("tenant:admin")
    address = body.contact_address or "" if body else ""
    url = await payments_service.portal(session, required(payments), principal.tenant(), address)
    return PortalRead(url=url)


@router.get("/v1/invoices", response_model=list[InvoiceRead])
async def list_invoices(
    principal: CurrentPrincipal,
    session: DbSession,
    payments: OptionalPayments,
    contact_address: Annotated[str | None, Query(pattern=E164)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[InvoiceRead]:
    """The subscriber's invoices from Stripe, newest first."""
    principal.require("messages:read")
    found = await payments_service.invoices(
        session, required(payments), principal.tenant(), contact_address or "", limit
    )
    return [InvoiceRead.of(invoice) for invoice in found]


@router.get("/v1/subscriptions/{address}/lines", response_model=list[QuotaRead])
async def list_lines(
    address: Address, principal: CurrentPrincipal, session: DbSession
) -> list[QuotaRead]:
    """A family sponsor's lines, each with what it used and has left."""
    principal.require("messages:read")
    sponsor = await _sponsor(session, principal.tenant(), address)
    now = datetime.now(UTC)
    return [
        await subscription_service.quota(session, line.tenant_id, line.contact_address, now)
        for line in await payments_service.lines(session, sponsor)
    ]


@router.post(
    "/v1/subscriptions/{address}/lines",
    response_model=SubscriptionRead,
    status_code=status.HTTP_201_CREATED,
)
async def add_line(
    address: Address,
    body: LineCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    payments: OptionalPayments,
) -> SubscriptionRead:
    """Add a line to a family plan: billed to the sponsor (prorated), with its own allowance."""
    principal.require("tenant:admin")
    sponsor = await _sponsor(session, principal.tenant(), address)
    line = await payments_service.add_line(
        session, payments, sponsor, body.contact_address, datetime.now(UTC)
    )
    return read_subscription(line)


@router.delete("/v1/subscriptions/{address}/lines/{line}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_line(
    address: Address,
    line: Annotated[str, Path(pattern=E164)],
    principal: CurrentPrincipal,
    session: DbSession,
    payments: OptionalPayments,
) -> None:
    principal.require("tenant:admin")
    tenant_id = principal.tenant()
    sponsor = await _sponsor(session, tenant_id, address)
    member = await payments_service.find(session, tenant_id, line)
    if member is None or member.sponsor_address != sponsor.contact_address:
        raise NotFound("No such line on this plan.")
    await payments_service.remove_line(session, payments, sponsor, member, datetime.now(UTC))
    await end(session, member)


@router.post("/v1/webhooks/stripe", include_in_schema=True)
async def stripe_webhook(
    request: Request,
    session: DbSession,
    payments: OptionalPayments,
    events: Events,
) -> dict[str, str]:
    """Stripe's events (no API key: the `Stripe-Signature` header proves them)."""
    gateway = required(payments)
    payload = await request.body()
    signature = request.headers.get("stripe-signature", "")
    try:
        gateway.stripe.verify(
            payload, signature, request.app.state.stripe_webhook_secrets,
            request.app.state.stripe_webhook_tolerance,
        )  # fmt: skip
    except stripe.SignatureVerificationError:
        log.warning("stripe.webhook_refused")
        raise BadRequest("The Stripe signature does not match, or it is too old.") from None
    except ValueError as error:
        raise Unavailable(str(error)) from None
    outcome = await events.apply(session, payload, datetime.now(UTC))
    log.info("stripe.webhook", outcome=outcome)
    return {"outcome": outcome}


async def _sponsor(session: AsyncSession, tenant_id: UUID, address: str) -> Subscription:
    sponsor = await payments_service.find(session, tenant_id, address)
    if sponsor is None:
        raise NotFound("No such subscription.")
    return sponsor
