"""Contacts: created the first time someone writes; every change is published.

`contact.upserted` and `contact.deleted` go out through the outbox in the transaction of the
change, keyed by tenant and address like the contact's messages, so the compacted `contacts`
topic ends with each contact's latest state (or its deletion) and other services' replicas
follow it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from fastapi.exceptions import RequestValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.errors import NotFound
from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    ContactData,
    ContactDeleted,
    ContactDeletedData,
    ContactUpserted,
    contact_key,
)
from switchboard.conversation.contacts.schemas import (
    MAX_ATTRIBUTES,
    ContactExport,
    ContactRead,
    ContactUpdate,
    ConversationExport,
    TurnExport,
)
from switchboard.conversation.models import Contact, Conversation, Turn, outbox
from switchboard.conversation.personas.service import persona_service

log = structlog.get_logger(__name__)


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
        persona=contact.persona,
        language=contact.language,
    )


class ContactService:
    def __init__(self) -> None:
        self.outbox = Outbox(outbox)

    async def publish(self, session: AsyncSession, contact: Contact) -> None:
        """Announce the contact as it now is on `contacts` (compacted: the latest wins)."""
        await session.flush()
        event = ContactUpserted.create(contact.tenant_id, contact_data(contact))
        await self.outbox.add(session, event, key=contact_key(contact.tenant_id, contact.address))

    async def get(
        self, session: AsyncSession, tenant_id: UUID, contact_id: UUID, *, lock: bool = False
    ) -> Contact:
        """One contact (locked for a change if `lock`); another tenant's contact is a 404."""
        statement = select(Contact).where(Contact.id == contact_id, Contact.tenant_id == tenant_id)
        if lock:
            statement = statement.with_for_update()
        contact = await session.scalar(statement)
        if contact is None:
            raise NotFound("No such contact.")
        return contact

    async def update(
        self, session: AsyncSession, tenant_id: UUID, contact_id: UUID, body: ContactUpdate
    ) -> Contact:
        """Change the fields sent and publish the contact if anything changed.

        The row is locked first, so two concurrent changes to `attributes` both survive (each
        merges into what the other committed) and their events leave in commit order.
        """
        contact = await self.get(session, tenant_id, contact_id, lock=True)
        sent: dict[str, Any] = body.model_dump(include=body.model_fields_set)
        if sent.get("persona") is not None:
            await persona_service.require(session, tenant_id, sent["persona"], field=("persona",))
        if "attributes" in sent:
            sent["attributes"] = _merged(contact.attributes, sent["attributes"])
        changed = sorted(name for name, value in sent.items() if getattr(contact, name) != value)
        for name in changed:
            setattr(contact, name, sent[name])
        if changed:
            await self.publish(session, contact)
        return contact

    async def export(
        self, session: AsyncSession, tenant_id: UUID, contact_id: UUID
    ) -> ContactExport:
        """Everything kept about the contact: its profile and every conversation, open or
        closed, with every turn; one document, for a privacy (access) request."""
        contact = await self.get(session, tenant_id, contact_id)
        conversations = (
            await session.scalars(
                select(Conversation)
                .where(Conversation.tenant_id == tenant_id, Conversation.contact_id == contact.id)
                .order_by(Conversation.created_at, Conversation.id)
            )
        ).all()
        turns: dict[UUID, list[TurnExport]] = {c.id: [] for c in conversations}
        rows = await session.scalars(
            select(Turn)
            .where(Turn.tenant_id == tenant_id, Turn.conversation_id.in_(list(turns)))
            .order_by(Turn.seq)
        )
        for turn in rows:
            turns[turn.conversation_id].append(
                TurnExport.model_validate(turn, from_attributes=True)
            )
        return ContactExport(
            exported_at=datetime.now(UTC),
            contact=ContactRead.model_validate(contact, from_attributes=True),
            conversations=[
                ConversationExport.model_validate(
                    {**_columns(conversation), "turns": turns[conversation.id]}
                )
                for conversation in conversations
            ],
        )

    async def delete(self, session: AsyncSession, tenant_id: UUID, contact_id: UUID) -> None:
        """Erase the contact, its conversations and their turns in the caller's transaction,
        and publish `contact.deleted` with them (a privacy erasure request).

        Locks come first, contact then its conversations: a worker writing a turn holds its
        conversation's lock, so the erasure waits for that turn and then removes it too, and a
        worker starting a conversation for this contact waits for the erasure (and then makes
        a new contact: the person wrote again).
        """
        contact = await self.get(session, tenant_id, contact_id, lock=True)
        conversation_ids = list(
            (
                await session.scalars(
                    select(Conversation.id)
                    .where(Conversation.contact_id == contact.id)
                    .order_by(Conversation.id)
                    .with_for_update()
                )
            ).all()
        )
        turns = await session.execute(
            delete(Turn).where(Turn.conversation_id.in_(conversation_ids))
        )
        await session.execute(delete(Conversation).where(Conversation.id.in_(conversation_ids)))
        await session.execute(delete(Contact).where(Contact.id == contact.id))
        event = ContactDeleted.create(tenant_id, ContactDeletedData(contact_id=contact.id))
        await self.outbox.add(session, event, key=contact_key(tenant_id, contact.address))
        log.info(
            "contact.erased",
            tenant_id=str(tenant_id),
            contact_id=str(contact.id),
            conversations=len(conversation_ids),
            turns=getattr(turns, "rowcount", None),
        )

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


def _merged(current: dict[str, str], sent: dict[str, str | None]) -> dict[str, str]:
    """`current` with the keys sent set, and those sent as `null` removed (at most 50 keys)."""
    merged = {**current, **{k: v for k, v in sent.items() if v is not None}}
    for key in (k for k, v in sent.items() if v is None):
        merged.pop(key, None)
    if len(merged) > MAX_ATTRIBUTES:
        raise RequestValidationError(
            [
                {
                    "type": "too_many_attributes",
                    "loc": ("body", "attributes"),
                    "msg": f"A contact has at most {MAX_ATTRIBUTES} attributes; this change "
                    f"would leave {len(merged)}. Remove some by setting them to null.",
                    "input": sent,
                }
            ]
        )
    return merged


def _columns(row: Conversation) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in Conversation.__table__.columns}


contact_service = ContactService()
