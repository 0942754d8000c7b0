"""Partner webhook endpoints: register, change, rotate secrets, read the log, resend, replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.partners.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from switchboard.gateway.partners.schemas import (
    AttemptRead,
    DeliveryRead,
    EndpointCreate,
    EndpointCreated,
    EndpointRead,
    EndpointUpdate,
    ReplayRequest,
    ReplayResult,
    SecretRotate,
    SecretRotated,
)
from switchboard.gateway.partners.service import parsed_payload, partner_webhooks
from switchboard.gateway.partners.targets import TargetPolicy

router = APIRouter(prefix="/v1/webhooks", tags=["partner webhooks"])

Limit = Annotated[int, Query(ge=1, le=500)]


def target_policy(request: Request) -> TargetPolicy:
    settings: GatewaySettings = request.app.state.settings
    return TargetPolicy(
        allow_private=settings.webhook_allow_private_targets,
        allow_http=settings.webhook_allow_http,
    )


def endpoint_read(endpoint: WebhookEndpoint) -> EndpointRead:
    return EndpointRead.model_validate(endpoint, from_attributes=True)


def delivery_read(delivery: WebhookDelivery) -> DeliveryRead:
    fields = {
        name: getattr(delivery, name) for name in DeliveryRead.model_fields if name != "payload"
    }
    return DeliveryRead(**fields, payload=parsed_payload(delivery))


def attempt_read(attempt: WebhookAttempt) -> AttemptRead:
    return AttemptRead.model_validate(attempt, from_attributes=True)


@router.post("/endpoints", status_code=status.HTTP_201_CREATED, response_model=EndpointCreated)
async def create_endpoint(
    body: EndpointCreate, request: Request, principal: CurrentPrincipal, session: DbSession
) -> EndpointCreated:
    """Register an endpoint for some event types; its signing secret is shown only here."""
    principal.require("tenant:admin")
    endpoint, secret = await partner_webhooks.register(
        session, request.app.state.cipher, target_policy(request), principal.tenant(), body
    )
    return EndpointCreated(**endpoint_read(endpoint).model_dump(), secret=secret)


@router.get("/endpoints", response_model=list[EndpointRead])
async def list_endpoints(principal: CurrentPrincipal, session: DbSession) -> list[EndpointRead]:
    """The tenant's webhook endpoints."""
    principal.require("tenant:admin")
    return [endpoint_read(e) for e in await partner_webhooks.list(session, principal.tenant())]


@router.get("/endpoints/{endpoint_id}", response_model=EndpointRead)
async def get_endpoint(
    endpoint_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> EndpointRead:
    """One webhook endpoint (a disabled one says why in `disabled_reason`)."""
    principal.require("tenant:admin")
    return endpoint_read(await partner_webhooks.get(session, principal.tenant(), endpoint_id))


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointRead)
async def update_endpoint(
    endpoint_id: UUID,
    body: EndpointUpdate,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
) -> EndpointRead:
    """Change an endpoint's URL, event types, description, or enable/disable it."""
    principal.require("tenant:admin")
    endpoint = await partner_webhooks.update(
        session, target_policy(request), principal.tenant(), endpoint_id, body
    )
    return endpoint_read(endpoint)


@router.delete("/endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(
    endpoint_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Delete an endpoint with its deliveries and attempt log."""
    principal.require("tenant:admin")
    await partner_webhooks.delete(session, principal.tenant(), endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/endpoints/{endpoint_id}/rotate-secret", response_model=SecretRotated)
async def rotate_secret(
    endpoint_id: UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    body: SecretRotate | None = None,
) -> SecretRotated:
    """A new signing secret; the old one still signs (a second signature) during the grace."""
    principal.require("tenant:admin")
    grace = timedelta(seconds=(body or SecretRotate()).grace_seconds)
    secret, expires = await partner_webhooks.rotate_secret(
        session, request.app.state.cipher, principal.tenant(), endpoint_id, grace
    )
    return SecretRotated(secret=secret, previous_secret_expires_at=expires)


@router.get("/endpoints/{endpoint_id}/deliveries", response_model=list[DeliveryRead])
async def list_deliveries(
    endpoint_id: UUID, principal: CurrentPrincipal, session: DbSession, limit: Limit = 100
) -> list[DeliveryRead]:
    """The endpoint's deliveries, newest first."""
    principal.require("tenant:admin")
    found = await partner_webhooks.deliveries(session, principal.tenant(), endpoint_id, limit)
    return [delivery_read(d) for d in found]


@router.get("/endpoints/{endpoint_id}/attempts", response_model=list[AttemptRead])
async def list_endpoint_attempts(
    endpoint_id: UUID, principal: CurrentPrincipal, session: DbSession, limit: Limit = 100
) -> list[AttemptRead]:
    """Every attempt to reach the endpoint, newest first."""
    principal.require("tenant:admin")
    found = await partner_webhooks.endpoint_attempts(
        session, principal.tenant(), endpoint_id, limit
    )
    return [attempt_read(a) for a in found]


@router.post(
    "/endpoints/{endpoint_id}/replay",
    response_model=ReplayResult,
    status_code=status.HTTP_202_ACCEPTED,
)
async def replay(
    endpoint_id: UUID, body: ReplayRequest, principal: CurrentPrincipal, session: DbSession
) -> ReplayResult:
    """Send every delivery of the endpoint created since a time again."""
    principal.require("tenant:admin")
    count = await partner_webhooks.replay(session, principal.tenant(), endpoint_id, body.since)
    return ReplayResult(deliveries=count)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryRead)
async def get_delivery(
    delivery_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> DeliveryRead:
    """One delivery, with its payload and where its retries stand."""
    principal.require("tenant:admin")
    return delivery_read(await partner_webhooks.delivery(session, principal.tenant(), delivery_id))


@router.get("/deliveries/{delivery_id}/attempts", response_model=list[AttemptRead])
async def list_delivery_attempts(
    delivery_id: UUID, principal: CurrentPrincipal, session: DbSession, limit: Limit = 100
) -> list[AttemptRead]:
    """Every attempt of one delivery, newest first."""
    principal.require("tenant:admin")
    found = await partner_webhooks.delivery_attempts(
        session, principal.tenant(), delivery_id, limit
    )
    return [attempt_read(a) for a in found]


@router.post(
    "/deliveries/{delivery_id}/resend",
    response_model=DeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def resend(
    delivery_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> DeliveryRead:
    """Send one delivery again now, with a fresh retry schedule."""
    principal.require("tenant:admin")
    return delivery_read(await partner_webhooks.resend(session, principal.tenant(), delivery_id))
