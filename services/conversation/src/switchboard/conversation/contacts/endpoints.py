"""Contacts API: the people who wrote to the tenant's numbers, their profile, export and erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.conversation.contacts.schemas import ContactExport, ContactRead, ContactUpdate
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


@router.patch("/{contact_id}", response_model=ContactRead)
async def update_contact(
    contact_id: UUID, body: ContactUpdate, principal: CurrentPrincipal, session: DbSession
) -> ContactRead:
    """Change a contact's profile; a change is published as `contact.upserted`."""
    principal.require("messages:write")
    contact = await contact_service.update(session, principal.tenant(), contact_id, body)
    return ContactRead.model_validate(contact, from_attributes=True)


@router.get("/{contact_id}/export", response_model=ContactExport)
async def export_contact(
    contact_id: UUID, response: Response, principal: CurrentPrincipal, session: DbSession
) -> ContactExport:
    """The contact's whole history as one JSON file, for a privacy (access) request: its
    profile and every conversation, open and closed, with every turn."""
    principal.require("messages:read")
    export = await contact_service.export(session, principal.tenant(), contact_id)
    response.headers["Content-Disposition"] = f'attachment; filename="contact-{contact_id}.json"'
    return export


@router.delete("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(
    contact_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Erase the contact with its conversations and transcripts (a privacy erasure request), in
    one transaction, and publish `contact.deleted`. It cannot be undone; a second call is a 404."""
    principal.require("tenant:admin")
    await contact_service.delete(session, principal.tenant(), contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
