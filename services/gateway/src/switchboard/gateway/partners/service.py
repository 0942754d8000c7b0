"""Partner endpoints (register, change, rotate), the deliveries an event fans out to, the log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.errors import Conflict, NotFound
from switchboard.contracts import new_event_id
from switchboard.gateway.crypto import CredentialCipher
from switchboard.gateway.partners.models import (
    DELIVERIES_CHANNEL,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from switchboard.gateway.partners.payloads import payload
from switchboard.gateway.partners.schemas import EndpointCreate, EndpointUpdate
from switchboard.gateway.partners.signing import new_secret
from switchboard.gateway.partners.targets import TargetPolicy, resolve


def seal_secret(cipher: CredentialCipher, secret: str) -> bytes:
    return cipher.seal({"secret": secret})


def open_secret(cipher: CredentialCipher, sealed: bytes) -> str:
    return cipher.open(sealed)["secret"]


async def wake_senders(session: AsyncSession) -> None:
    """Wake the delivery loops at commit (inserts do it by trigger; updates need this)."""
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": DELIVERIES_CHANNEL})


class PartnerWebhooks:
    async def register(
        self,
        session: AsyncSession,
        cipher: CredentialCipher,
        policy: TargetPolicy,
        tenant_id: UUID,
        body: EndpointCreate,
    ) -> tuple[WebhookEndpoint, str]:
        """A new endpoint and its secret (the only time the secret is given out)."""
        await resolve(body.url, policy)
        secret = new_secret()
        endpoint = WebhookEndpoint(
            tenant_id=tenant_id,
            url=body.url,
            description=body.description,
            event_types=sorted(set(body.event_types)),
            enabled=body.enabled,
            secret=seal_secret(cipher, secret),
        )
        session.add(endpoint)
        await session.flush()
        await session.refresh(endpoint)
        return endpoint, secret

    async def get(
        self, session: AsyncSession, tenant_id: UUID, endpoint_id: UUID
    ) -> WebhookEndpoint:
        endpoint = await session.scalar(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant_id == tenant_id
            )
        )
        if endpoint is None:
            raise NotFound("No such webhook endpoint.")
        return endpoint

    async def list(self, session: AsyncSession, tenant_id: UUID) -> Sequence[WebhookEndpoint]:
        statement = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id)
            .order_by(WebhookEndpoint.created_at)
        )
        return (await session.scalars(statement)).all()

    async def update(
        self,
        session: AsyncSession,
        policy: TargetPolicy,
        tenant_id: UUID,
        endpoint_id: UUID,
        body: EndpointUpdate,
    ) -> WebhookEndpoint:
        endpoint = await self.get(session, tenant_id, endpoint_id)
        if body.url is not None:
            await resolve(body.url, policy)
            endpoint.url = body.url
        if body.event_types is not None:
            endpoint.event_types = sorted(set(body.event_types))
        if body.description is not None:
            endpoint.description = body.description
        if body.enabled is not None:
            if body.enabled and not endpoint.enabled:
                endpoint.disabled_reason = None
                endpoint.failing_since = None
                await wake_senders(session)
            endpoint.enabled = body.enabled
        endpoint.updated_at = datetime.now(UTC)
        await session.flush()
        return endpoint

    async def delete(self, session: AsyncSession, tenant_id: UUID, endpoint_id: UUID) -> None:
        endpoint = await self.get(session, tenant_id, endpoint_id)
        await session.delete(endpoint)

    async def rotate_secret(
        self,
        session: AsyncSession,
        cipher: CredentialCipher,
        tenant_id: UUID,
        endpoint_id: UUID,
        grace: timedelta,
    ) -> tuple[str, datetime]:
        """A new secret; the current one keeps signing (a second signature) for `grace`."""
        endpoint = await self.get(session, tenant_id, endpoint_id)
        secret = new_secret()
        now = datetime.now(UTC)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + grace
        endpoint.secret = seal_secret(cipher, secret)
        endpoint.updated_at = now
        await session.flush()
        return secret, now + grace

    async def fan_out(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        event_id: UUID,
        event_type: str,
        occurred_at: datetime,
        data: dict[str, Any],
        *,
        now: datetime | None = None,
    ) -> int:
        """One pending delivery per enabled endpoint of the tenant that wants `event_type`."""
        endpoint_ids = (
            await session.scalars(
                select(WebhookEndpoint.id).where(
                    WebhookEndpoint.tenant_id == tenant_id,
                    WebhookEndpoint.enabled,
                    WebhookEndpoint.event_types.any_() == event_type,
                )
            )
        ).all()
        if not endpoint_ids:
            return 0
        body = payload(event_type, occurred_at, data)
        due = now or datetime.now(UTC)
        rows = [
            {
                "id": new_event_id(),
                "tenant_id": tenant_id,
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "event_type": event_type,
                "payload": body,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": due,
            }
            for endpoint_id in endpoint_ids
        ]
        await session.execute(insert(WebhookDelivery).values(rows).on_conflict_do_nothing())
        return len(rows)

    async def deliveries(
        self, session: AsyncSession, tenant_id: UUID, endpoint_id: UUID, limit: int
    ) -> Sequence[WebhookDelivery]:
        await self.get(session, tenant_id, endpoint_id)
        statement = (
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(limit)
        )
        return (await session.scalars(statement)).all()

    async def delivery(
        self, session: AsyncSession, tenant_id: UUID, delivery_id: UUID
    ) -> WebhookDelivery:
        delivery = await session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.tenant_id == tenant_id
            )
        )
        if delivery is None:
            raise NotFound("No such webhook delivery.")
        return delivery

    async def endpoint_attempts(
        self, session: AsyncSession, tenant_id: UUID, endpoint_id: UUID, limit: int
    ) -> Sequence[WebhookAttempt]:
        await self.get(session, tenant_id, endpoint_id)
        return await self._attempts(session, WebhookAttempt.endpoint_id == endpoint_id, limit)

    async def delivery_attempts(
        self, session: AsyncSession, tenant_id: UUID, delivery_id: UUID, limit: int
    ) -> Sequence[WebhookAttempt]:
        await self.delivery(session, tenant_id, delivery_id)
        return await self._attempts(session, WebhookAttempt.delivery_id == delivery_id, limit)

    async def _attempts(
        self, session: AsyncSession, condition: Any, limit: int
    ) -> Sequence[WebhookAttempt]:
        statement = (
            select(WebhookAttempt).where(condition).order_by(WebhookAttempt.id.desc()).limit(limit)
        )
        return (await session.scalars(statement)).all()

    async def resend(
        self, session: AsyncSession, tenant_id: UUID, delivery_id: UUID
    ) -> WebhookDelivery:
        """Send one delivery again now, with a fresh retry schedule."""
        delivery = await self.delivery(session, tenant_id, delivery_id)
        await self._require_enabled(session, tenant_id, delivery.endpoint_id)
        delivery.status = "pending"
        delivery.attempts = 0
        delivery.next_attempt_at = datetime.now(UTC)
        await wake_senders(session)
        await session.flush()
        return delivery

    async def replay(
        self, session: AsyncSession, tenant_id: UUID, endpoint_id: UUID, since: datetime
    ) -> int:
        """Send every delivery of the endpoint created since `since` again (in creation order)."""
        await self._require_enabled(session, tenant_id, endpoint_id)
        result = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.tenant_id == tenant_id,
                WebhookDelivery.created_at >= since,
            )
            .values(status="pending", attempts=0, next_attempt_at=WebhookDelivery.created_at)
            .returning(WebhookDelivery.id)
        )
        await wake_senders(session)
        return len(result.all())

    async def _require_enabled(
        self, session: AsyncSession, tenant_id: UUID, endpoint_id: UUID
    ) -> None:
        endpoint = await self.get(session, tenant_id, endpoint_id)
        if not endpoint.enabled:
            raise Conflict("The endpoint is disabled; enable it first.")


def parsed_payload(delivery: WebhookDelivery) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(delivery.payload)
    return parsed


partner_webhooks = PartnerWebhooks()
