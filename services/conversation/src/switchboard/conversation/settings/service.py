"""A tenant's assistant settings and the platform's AI switch, as the assistant reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import structlog
from fastapi.exceptions import RequestValidationError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.auth import Principal
from switchboard.conversation.models import AssistantSettings, PlatformControl
from switchboard.conversation.personas.service import persona_service
from switchboard.conversation.settings.schemas import (
    AssistantSettingsRead,
    AssistantSettingsUpdate,
    PlatformAssistantRead,
    PlatformAssistantWrite,
)

log = structlog.get_logger(__name__)

AI_SWITCH = "ai"
"""The platform control that turns every tenant's assistant off at once."""


def default_settings(tenant_id: UUID) -> AssistantSettings:
    """What a tenant that never changed its settings gets (the columns' defaults)."""
    return AssistantSettings(
        tenant_id=tenant_id,
        enabled=True,
        default_persona="default",
        assistant_name=None,
        business_facts="",
        sms_max_segments=2,
        contact_messages_per_minute=10,
        handoff_phrases=[],
        blocked_phrases=[],
        routes={},
    )


class SettingsService:
    async def get(self, session: AsyncSession, tenant_id: UUID) -> AssistantSettings:
        """The tenant's settings; defaults (not stored) if it has none yet."""
        stored = await session.get(AssistantSettings, tenant_id)
        return stored if stored is not None else default_settings(tenant_id)

    async def ensure(self, session: AsyncSession, tenant_id: UUID) -> AssistantSettings:
        """The tenant's stored settings row, created with the defaults, locked for a change."""
        statement = select(AssistantSettings).where(AssistantSettings.tenant_id == tenant_id)
        stored = await session.scalar(statement.with_for_update())
        if stored is None:
            stored = default_settings(tenant_id)
            session.add(stored)
            await session.flush()
        return stored

    async def platform_enabled(self, session: AsyncSession) -> bool:
        return (await self.platform_switch(session)).enabled

    # The operators' API ------------------------------------------------------------------------

    async def read(self, session: AsyncSession, tenant_id: UUID) -> AssistantSettingsRead:
        """The tenant's settings (the defaults if it never changed them) and the platform switch."""
        return _settings_read(
            await self.get(session, tenant_id), await self.platform_enabled(session)
        )

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        body: AssistantSettingsUpdate,
        *,
        provider_names: Sequence[str],
    ) -> AssistantSettingsRead:
        """Change the fields the caller sent, after checking what a schema cannot: the persona
        exists for the tenant and every route names a configured provider (else a 422)."""
        tenant_id = principal.tenant()
        changes: dict[str, Any] = body.model_dump(include=body.model_fields_set)
        if "routes" in changes:
            check_routes(changes["routes"], provider_names)
        stored = await self.ensure(session, tenant_id)
        if "default_persona" in changes:
            await persona_service.require(
                session, tenant_id, changes["default_persona"], field=("default_persona",)
            )
        changed = sorted(name for name, value in changes.items() if getattr(stored, name) != value)
        for name in changed:
            setattr(stored, name, changes[name])
        await session.flush()
        # Set by the database (default or `onupdate`): read it back rather than lazy-load it.
        await session.refresh(stored, ["updated_at"])
        if changed:
            log.info(
                "assistant.settings_changed",
                tenant_id=str(tenant_id),
                by=principal.key_id,
                fields=changed,
                enabled=stored.enabled,
            )
        return _settings_read(stored, await self.platform_enabled(session))

    async def platform_switch(self, session: AsyncSession) -> PlatformAssistantRead:
        """The platform's AI switch; never thrown means on."""
        control = await session.get(PlatformControl, AI_SWITCH)
        if control is None:
            return PlatformAssistantRead(enabled=True, reason=None, updated_at=None)
        return PlatformAssistantRead.model_validate(control, from_attributes=True)

    async def set_platform_switch(
        self, session: AsyncSession, principal: Principal, body: PlatformAssistantWrite
    ) -> PlatformAssistantRead:
        """Throw the platform's AI switch (one upsert, so two admins at once cannot collide),
        logging who did it and what it was before: it silences every tenant's assistant."""
        previous = await self.platform_switch(session)
        statement = (
            insert(PlatformControl)
            .values(name=AI_SWITCH, enabled=body.enabled, reason=body.reason)
            .on_conflict_do_update(
                index_elements=["name"],
                set_={"enabled": body.enabled, "reason": body.reason, "updated_at": func.now()},
            )
            .returning(PlatformControl)
            .execution_options(populate_existing=True)
        )
        control = (await session.scalars(statement)).one()
        log.warning(
            "platform.ai_switch_changed",
            by=principal.key_id,
            enabled=control.enabled,
            was_enabled=previous.enabled,
            reason=control.reason,
        )
        return PlatformAssistantRead.model_validate(control, from_attributes=True)


def check_routes(routes: Mapping[str, Sequence[str]], provider_names: Sequence[str]) -> None:
    """Refuse routes naming a provider this deployment does not configure (a 422 per route):
    the router would skip such a name silently, and the operator would never know why."""
    known = ", ".join(provider_names)
    errors = [
        {
            "type": "unknown_provider",
            "loc": ("body", "routes", purpose),
            "msg": f"Unknown provider {', '.join(map(repr, unknown))}; the configured providers "
            f"are: {known}.",
            "input": list(names),
        }
        for purpose, names in routes.items()
        if (unknown := [name for name in names if name not in provider_names])
    ]
    if errors:
        raise RequestValidationError(errors)


def _settings_read(stored: AssistantSettings, platform_enabled: bool) -> AssistantSettingsRead:
    fields = AssistantSettingsRead.model_fields.keys() - {"platform_enabled"}
    values = {name: getattr(stored, name) for name in fields}
    return AssistantSettingsRead.model_validate({**values, "platform_enabled": platform_enabled})


settings_service = SettingsService()
