"""The contacts replica: the conversation service owns contacts, campaigns keeps a copy."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.models import Contact
from switchboard.campaigns.policy.service import region_of
from switchboard.campaigns.timing import number_zone
from switchboard.contracts import ContactData


class ContactReplica:
    async def upsert(
        self, session: AsyncSession, tenant_id: UUID, contact: ContactData, *, changed_at: datetime
    ) -> None:
        """Take the contact as published, unless the replica already holds a newer version; the
        number's zone and region are worked out here, once per change, not for every send."""
        values = {
            "tenant_id": tenant_id,
            "contact_id": contact.contact_id,
            "address": contact.address,
            "number_zone": number_zone(contact.address),
            "region": region_of(contact.address),
            "display_name": contact.display_name,
            "time_zone": contact.time_zone,
            "attributes": contact.attributes,
            "blocked": contact.blocked,
            "updated_at": changed_at,
        }
        statement = insert(Contact).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[Contact.tenant_id, Contact.contact_id],
            set_={name: statement.excluded[name] for name in values},
            where=Contact.updated_at <= statement.excluded.updated_at,
        )
        await session.execute(statement)

    async def delete(self, session: AsyncSession, tenant_id: UUID, contact_id: UUID) -> None:
        """Forget a contact the conversation service deleted."""
        await session.execute(
            delete(Contact).where(Contact.tenant_id == tenant_id, Contact.contact_id == contact_id)
        )

    async def list(
        self, session: AsyncSession, tenant_id: UUID, *, address: str | None, limit: int
    ) -> list[Contact]:
        """The tenant's contacts as last published, most recently changed first."""
        statement = select(Contact).where(Contact.tenant_id == tenant_id)
        if address is not None:
            statement = statement.where(Contact.address == address)
        statement = statement.order_by(Contact.updated_at.desc(), Contact.contact_id).limit(limit)
        return list((await session.scalars(statement)).all())


class Known(Protocol):
    """A contact as the replica keeps it (a row or a model)."""

    display_name: str | None
    time_zone: str | None
    attributes: dict[str, str]


def contact_facts(address: str, contact: Known | None) -> dict[str, Any]:
    """What conditions and templates read as `contact.*`: the replica's fields, or only the
    address of a contact campaigns does not know (yet)."""
    return {
        "address": address,
        "display_name": contact.display_name if contact else None,
        "time_zone": contact.time_zone if contact else None,
        "attributes": dict(contact.attributes) if contact else {},
    }


contact_replica = ContactReplica()
