"""Contacts: created the first time someone writes; every new contact is published."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.errors import NotFound
from switchboard.common.outbox import Outbox
from switchboard.contracts import ContactData, ContactUpserted, contact_key, new_event_id
from switchboard.conversation.models import Contact, outbox


def normalize_address(raw: str) -> str:
    """An address typed into a query string: a `+` sent unencoded arrives as a space."""
    address = raw.strip()
    return f"+{address}" if address.isdigit() else address


def contact_data(contact: Contact) -> ContactData:
    return ContactData(
        contact_id=contact.id,
        address=contact.address,
        display_name=contact.display_name,
        time_zone=contact.time_zone,
        attributes=dict(contact.attributes),
        blocked=contact.blocked,
    )


def _at_address(tenant_id: UUID, address: str) -> Select[Contact]:
    return select(Contact).where(Contact.tenant_id == tenant_id, Contact.address == address)


class ContactService:
    def __init__(self) -> None:
        self.outbox = Outbox(outbox)

    async def ensure(self, session: AsyncSession, tenant_id: UUID, address: str) -> Contact:
        """The tenant's contact at `address`, created (and published) if it is new."""
        statement = (
            insert(Contact)
            .values(id=new_event_id(), tenant_id=tenant_id, address=address)
            .on_conflict_do_nothing(index_elements=["tenant_id", "address"])
            .returning(Contact.id)
        )
        created = await session.scalar(statement)
        contact = (await session.scalars(_at_address(tenant_id, address))).one()
        if created is not None:
            event = ContactUpserted.create(tenant_id, contact_data(contact))
            await self.outbox.add(session, event, key=contact_key(tenant_id, address))
        return contact

    async def get(self, session: AsyncSession, tenant_id: UUID, contact_id: UUID) -> Contact:
        """One contact; another tenant's contact is a 404."""
        contact = await session.get(Contact, contact_id)
        if contact is None or contact.tenant_id != tenant_id:
            raise NotFound("No such contact.")
        return contact

    async def list(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        *,
        address: str | None,
        limit: int,
        before: datetime | None,
    ) -> list[Contact]:
        """The tenant's contacts, newest first, optionally only the one at `address`."""
        statement = select(Contact).where(Contact.tenant_id == tenant_id)
        if address is not None:
            statement = statement.where(Contact.address == normalize_address(address))
        if before is not None:
            statement = statement.where(Contact.created_at < before)
        statement = statement.order_by(Contact.created_at.desc(), Contact.id.desc()).limit(limit)
        return list((await session.scalars(statement)).all())


contact_service = ContactService()
