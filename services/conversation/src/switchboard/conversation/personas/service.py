"""Personas as the assistant uses them: the tenant's own, else the library's template.

Operators manage them through `/v1/personas`: the library's templates are read-only and shared by
every tenant; a tenant writes its own, and one under a library slug overrides that template for
the tenant only (deleting it brings the template back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from fastapi.exceptions import RequestValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.errors import Conflict, NotFound
from switchboard.contracts import new_event_id
from switchboard.conversation.models import AssistantSettings, Persona
from switchboard.conversation.personas.library import LIBRARY
from switchboard.conversation.personas.schemas import PersonaRead, PersonaWrite

FALLBACK_SLUG = "default"


@dataclass(frozen=True, slots=True)
class ResolvedPersona:
    slug: str
    name: str
    instructions: str


class PersonaService:
    async def available(self, session: AsyncSession, tenant_id: UUID) -> list[ResolvedPersona]:
        """Every persona the tenant can choose, its own versions replacing the library's."""
        own = (await session.scalars(select(Persona).where(Persona.tenant_id == tenant_id))).all()
        by_slug = {
            t.slug: ResolvedPersona(t.slug, t.name, t.instructions) for t in LIBRARY.values()
        }
        by_slug.update({p.slug: ResolvedPersona(p.slug, p.name, p.instructions) for p in own})
        return sorted(by_slug.values(), key=lambda p: p.slug)

    # The operators' API ------------------------------------------------------------------------

    async def catalog(self, session: AsyncSession, tenant_id: UUID) -> list[PersonaRead]:
        """What the tenant can choose, by slug: the library's templates and its own personas,
        its own replacing a template of the same slug."""
        own = await session.scalars(select(Persona).where(Persona.tenant_id == tenant_id))
        by_slug = {slug: _template_read(slug) for slug in LIBRARY}
        by_slug.update({persona.slug: _tenant_read(persona) for persona in own})
        return [by_slug[slug] for slug in sorted(by_slug)]

    async def read(self, session: AsyncSession, tenant_id: UUID, slug: str) -> PersonaRead:
        """One persona as the tenant sees it (its own version first); a 404 if neither exists."""
        own = await self._own(session, tenant_id, slug)
        if own is not None:
            return _tenant_read(own)
        if slug in LIBRARY:
            return _template_read(slug)
        raise NotFound(f"No persona {slug!r}.")

    async def put(
        self, session: AsyncSession, tenant_id: UUID, slug: str, body: PersonaWrite
    ) -> PersonaRead:
        """Create or replace the tenant's own persona `slug` (one statement: two operators
        writing the same slug at once cannot both insert)."""
        values = body.model_dump()
        statement = (
            insert(Persona)
            .values(id=new_event_id(), tenant_id=tenant_id, slug=slug, **values)
            .on_conflict_do_update(
                constraint="uq_personas_tenant_slug", set_={**values, "updated_at": func.now()}
            )
            .returning(Persona)
            .execution_options(populate_existing=True)
        )
        persona = (await session.scalars(statement)).one()
        return _tenant_read(persona)

    async def delete(self, session: AsyncSession, tenant_id: UUID, slug: str) -> None:
        """Delete the tenant's own persona `slug`.

        A library template cannot be deleted (409): every tenant shares it. The persona the
        tenant's assistant uses by default cannot be deleted either unless a template of the same
        slug takes its place: the assistant would silently change voice for every contact.
        """
        own = await self._own(session, tenant_id, slug, lock=True)
        if own is None:
            if slug in LIBRARY:
                raise Conflict(
                    f"{slug!r} is a library persona: it cannot be deleted. "
                    f"PUT /v1/personas/{slug} to override it for this tenant instead."
                )
            raise NotFound(f"No persona {slug!r}.")
        if slug not in LIBRARY:
            default = await session.scalar(
                select(AssistantSettings.default_persona).where(
                    AssistantSettings.tenant_id == tenant_id
                )
            )
            if default == slug:
                raise Conflict(
                    f"{slug!r} is the assistant's default persona: choose another "
                    "`default_persona` (PATCH /v1/assistant/settings) before deleting it."
                )
        await session.execute(delete(Persona).where(Persona.id == own.id))

    async def require(
        self, session: AsyncSession, tenant_id: UUID, slug: str, *, field: Sequence[str | int]
    ) -> None:
        """Refuse a request that names a persona the tenant cannot choose: a 422 on `field`,
        in the same shape as every other validation error of the API.

        The tenant's own persona is share-locked until the caller commits, so a concurrent
        delete cannot slip between this check and the write that names it.
        """
        if slug in LIBRARY:
            return
        statement = select(Persona.id).where(Persona.tenant_id == tenant_id, Persona.slug == slug)
        if await session.scalar(statement.with_for_update(read=True)) is not None:
            return
        choices = ", ".join(p.slug for p in await self.catalog(session, tenant_id))
        raise RequestValidationError(
            [
                {
                    "type": "unknown_persona",
                    "loc": ("body", *field),
                    "msg": f"No persona {slug!r}; the tenant's personas are: {choices}.",
                    "input": slug,
                }
            ]
        )

    async def _own(
        self, session: AsyncSession, tenant_id: UUID, slug: str, *, lock: bool = False
    ) -> Persona | None:
        statement = select(Persona).where(Persona.tenant_id == tenant_id, Persona.slug == slug)
        if lock:
            statement = statement.with_for_update()
        return await session.scalar(statement)


def _template_read(slug: str) -> PersonaRead:
    template = LIBRARY[slug]
    return PersonaRead(
        slug=slug,
        name=template.name,
        description=template.description,
        instructions=template.instructions,
        source="library",
        overrides_library=False,
        updated_at=None,
    )


def _tenant_read(persona: Persona) -> PersonaRead:
    return PersonaRead(
        slug=persona.slug,
        name=persona.name,
        description=persona.description,
        instructions=persona.instructions,
        source="tenant",
        overrides_library=persona.slug in LIBRARY,
        updated_at=persona.updated_at,
    )


persona_service = PersonaService()
