"""Personas API: the voices a tenant's assistant can take, the library's and the tenant's own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.conversation.personas.schemas import SLUG_PATTERN, PersonaRead, PersonaWrite
from switchboard.conversation.personas.service import persona_service

router = APIRouter(prefix="/v1/personas", tags=["personas"])

SlugPath = Annotated[
    str,
    Path(
        pattern=SLUG_PATTERN,
        description="Lowercase letters, digits and hyphens, at most 64.",
        examples=["friendly-concierge"],
    ),
]


@router.get("", response_model=list[PersonaRead])
async def list_personas(principal: CurrentPrincipal, session: DbSession) -> list[PersonaRead]:
    """Every persona the tenant can choose, by slug: the library's templates and its own (its
    own replacing a template of the same slug)."""
    principal.require("messages:read")
    return await persona_service.catalog(session, principal.tenant())


@router.get("/{slug}", response_model=PersonaRead)
async def get_persona(
    slug: SlugPath, principal: CurrentPrincipal, session: DbSession
) -> PersonaRead:
    """One persona, as the assistant would use it for this tenant."""
    principal.require("messages:read")
    return await persona_service.read(session, principal.tenant(), slug)


@router.put("/{slug}", response_model=PersonaRead)
async def put_persona(
    slug: SlugPath, body: PersonaWrite, principal: CurrentPrincipal, session: DbSession
) -> PersonaRead:
    """Create or replace the tenant's own persona; under a library slug it overrides that
    template for this tenant only."""
    principal.require("tenant:admin")
    return await persona_service.put(session, principal.tenant(), slug, body)


@router.delete(
    "/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "A library persona, or the assistant's default persona."}},
)
async def delete_persona(
    slug: SlugPath, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Delete the tenant's own persona; deleting an override brings the library's template back."""
    principal.require("tenant:admin")
    await persona_service.delete(session, principal.tenant(), slug)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
