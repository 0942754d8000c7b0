"""Business events: stored once per idempotency key, read back per tenant."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.events.schemas import EventCreate
from switchboard.campaigns.models import BusinessEvent, outbox
from switchboard.common.errors import Conflict, NotFound
from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    BusinessEventData,
    BusinessEventReceived,
    new_event_id,
    utcnow,
)

_outbox = Outbox(outbox)


def event_key(tenant_id: UUID, event: BusinessEvent) -> bytes:
    """The contact the event is about (address, else external id): one contact's events stay
    in order on one partition."""
    contact = event.contact_address or f"external:{event.external_contact_id}"
    return f"{tenant_id}:{contact}".encode()


class EventService:
    async def ingest(
        self, session: AsyncSession, tenant_id: UUID, body: EventCreate
    ) -> tuple[BusinessEvent, bool]:
        """Store the event once per idempotency key, published on `events` in the same
        transaction; returns it and whether it is new."""
        event_id = new_event_id()
        key = body.idempotency_key or f"event:{event_id}"
        fingerprint = body.fingerprint()
        statement = (
            insert(BusinessEvent)
            .values(
                id=event_id,
                tenant_id=tenant_id,
                type=body.type,
                contact_address=body.contact_address,
                external_contact_id=body.external_contact_id,
                attributes=body.attributes,
                idempotency_key=key,
                fingerprint=fingerprint,
                occurred_at=body.occurred_at or utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
            .returning(BusinessEvent)
        )
        created = (await session.scalars(statement)).one_or_none()
        if created is not None:
            data = BusinessEventData(
                business_event_id=created.id,
                type=created.type,
                contact_address=created.contact_address,
                external_contact_id=created.external_contact_id,
                attributes=created.attributes,
                occurred_at=created.occurred_at,
            )
            published = BusinessEventReceived.create(tenant_id, data)
            await _outbox.add(session, published, key=event_key(tenant_id, created))
            return created, True
        return await self._replayed(session, tenant_id, key, fingerprint), False

    async def list(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        *,
        event_type: str | None,
        limit: int,
        before: UUID | None,
    ) -> list[BusinessEvent]:
        """The tenant's events, newest first (ids are time-ordered UUIDv7)."""
        statement = select(BusinessEvent).where(BusinessEvent.tenant_id == tenant_id)
        if event_type is not None:
            statement = statement.where(BusinessEvent.type == event_type)
        if before is not None:
            statement = statement.where(BusinessEvent.id < before)
        statement = statement.order_by(BusinessEvent.id.desc()).limit(limit)
        return list((await session.scalars(statement)).all())

    async def get(self, session: AsyncSession, tenant_id: UUID, event_id: UUID) -> BusinessEvent:
        """One event; another tenant's event is a 404."""
        event = await session.get(BusinessEvent, event_id)
        if event is None or event.tenant_id != tenant_id:
            raise NotFound("No such event.")
        return event

    async def _replayed(
        self, session: AsyncSession, tenant_id: UUID, key: str, fingerprint: str
    ) -> BusinessEvent:
        statement = select(BusinessEvent).where(
            BusinessEvent.tenant_id == tenant_id, BusinessEvent.idempotency_key == key
        )
        original = (await session.scalars(statement)).one()
        if original.fingerprint != fingerprint:
            raise Conflict(
                "This idempotency key was already used for a different event; "
                "send the same body to retry, or use a new key."
            )
        return original


event_service = EventService()
