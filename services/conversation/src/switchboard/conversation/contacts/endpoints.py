"""Contacts API: the people who wrote to the tenant's numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.conversation.contacts.schemas import ContactRead
from switchboard.conversation.contacts.service import contact_service

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


@router.get("", response_model=list[ContactRead])
async def list_contacts(
    principal: CurrentPrincipal,
    session: DbSession,
    address: Annotated[
        str | None, Query(description="Only the contact at this E.164 address.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: datetime | None = None,
) -> list[ContactRead]:
    """The tenant's contacts, newest first."""
    principal.require("messages:read")
    contacts = await contact_service.list(
        session, principal.tenant(), address=address, limit=limit, before=before
    )
    return [ContactRead.model_validate(c, from_attributes=True) for c in contacts]


@router.get("/{contact_id}", response_model=ContactRead)
async def get_contact(
    contact_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> ContactRead:
    """One contact."""
    principal.require("messages:read")
    contact = await contact_service.get(session, principal.tenant(), contact_id)
    return ContactRead.model_validate(contact, from_attributes=True)
