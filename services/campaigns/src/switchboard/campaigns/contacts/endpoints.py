"""Contacts as campaigns sees them: a read-only copy of the conversation service's contacts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from switchboard.campaigns.addresses import E164
from switchboard.campaigns.contacts.schemas import ContactRead
from switchboard.campaigns.contacts.service import contact_replica
from switchboard.common.http import CurrentPrincipal, DbSession

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


@router.get("", response_model=list[ContactRead])
async def list_contacts(
    principal: CurrentPrincipal,
    session: DbSession,
    address: Annotated[
        str | None,
        Query(pattern=E164.pattern, description="Only the contact at this E.164 address."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ContactRead]:
    """The tenant's contacts known to campaigns (read-only; manage them in conversation)."""
    principal.require("messages:read")
    contacts = await contact_replica.list(session, principal.tenant(), address=address, limit=limit)
    return [ContactRead.model_validate(c, from_attributes=True) for c in contacts]
