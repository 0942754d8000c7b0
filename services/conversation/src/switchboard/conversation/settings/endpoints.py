"""Assistant settings API: a tenant's assistant, the models it may use, the platform AI switch."""

from __future__ import annotations

from fastapi import APIRouter, Request

from switchboard.common.errors import Forbidden
from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.conversation.config import ConversationSettings
from switchboard.conversation.settings.schemas import (
    AssistantSettingsRead,
    AssistantSettingsUpdate,
    PlatformAssistantRead,
    PlatformAssistantWrite,
    ProviderRead,
)
from switchboard.conversation.settings.service import settings_service

router = APIRouter(prefix="/v1/assistant", tags=["assistant"])
platform_router = APIRouter(prefix="/v1/platform", tags=["platform"])


def _settings(request: Request) -> ConversationSettings:
    settings: ConversationSettings = request.app.state.settings
    return settings


@router.get("/settings", response_model=AssistantSettingsRead)
async def get_settings(principal: CurrentPrincipal, session: DbSession) -> AssistantSettingsRead:
    """How the tenant's assistant behaves (the defaults until it changes them)."""
    principal.require("messages:read")
    return await settings_service.read(session, principal.tenant())


@router.patch("/settings", response_model=AssistantSettingsRead)
async def update_settings(
    body: AssistantSettingsUpdate, request: Request, principal: CurrentPrincipal, session: DbSession
) -> AssistantSettingsRead:
    """Change some settings: `enabled` is the tenant's AI switch; `default_persona` must be one
    of the tenant's personas and `routes` may name only configured providers (else 422)."""
    principal.require("tenant:admin")
    names = _settings(request).provider_names()
    return await settings_service.update(session, principal, body, provider_names=names)


@router.get("/providers", response_model=list[ProviderRead])
async def list_providers(request: Request, principal: CurrentPrincipal) -> list[ProviderRead]:
    """The model providers this deployment configures, by the names routes use (in the order
    tried by default); their keys and endpoints are never shown."""
    principal.require("messages:read")
    settings = _settings(request)
    if not settings.llm_chain:
        offline = settings.llm_provider
        return [ProviderRead(name=offline, provider=offline, model=offline)]
    return [
        ProviderRead(name=name, provider=config.provider, model=config.model)
        for name, config in zip(settings.provider_names(), settings.llm_chain, strict=True)
    ]


@platform_router.get("/assistant", response_model=PlatformAssistantRead)
async def get_platform_switch(
    principal: CurrentPrincipal, session: DbSession
) -> PlatformAssistantRead:
    """The platform's AI switch: when off, no tenant's assistant answers (any key may read it,
    so a tenant can tell why its assistant is silent)."""
    principal.require("messages:read")
    return await settings_service.platform_switch(session)


@platform_router.put("/assistant", response_model=PlatformAssistantRead)
async def set_platform_switch(
    body: PlatformAssistantWrite, principal: CurrentPrincipal, session: DbSession
) -> PlatformAssistantRead:
    """Turn every tenant's assistant off or back on (the platform admin only); logged with who."""
    if not principal.is_platform_admin:
        raise Forbidden("Only the platform admin can change the platform's AI switch.")
    return await settings_service.set_platform_switch(session, principal, body)
