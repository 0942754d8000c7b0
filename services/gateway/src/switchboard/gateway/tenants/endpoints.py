"""Tenants and API keys: the platform admin creates tenants, tenants manage their keys."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from switchboard.common.errors import Forbidden, NotFound
from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.gateway.tenants.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyRead,
    TenantCreate,
    TenantCreated,
    TenantRead,
)
from switchboard.gateway.tenants.service import tenant_service

router = APIRouter(prefix="/v1", tags=["tenants"])


@router.post("/tenants", status_code=status.HTTP_201_CREATED, response_model=TenantCreated)
async def create_tenant(
    body: TenantCreate, principal: CurrentPrincipal, session: DbSession
) -> TenantCreated:
    """Create a tenant and its first API key (platform admin only; the key is shown once)."""
    if not principal.is_platform_admin:
        raise Forbidden("Only the platform admin key can create tenants.")
    tenant, key = await tenant_service.create(session, body.name)
    return TenantCreated(
        id=tenant.id,
        name=tenant.name,
        active=tenant.active,
        created_at=tenant.created_at,
        api_key=key,
    )


@router.get("/tenants/me", response_model=TenantRead)
async def get_own_tenant(principal: CurrentPrincipal, session: DbSession) -> TenantRead:
    """The tenant the calling key belongs to."""
    tenant = await tenant_service.get(session, principal.tenant())
    return TenantRead.model_validate(tenant, from_attributes=True)


@router.post(
    "/tenants/{tenant_id}/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyIssued,
)
async def create_api_key(
    tenant_id: UUID, body: ApiKeyCreate, principal: CurrentPrincipal, session: DbSession
) -> ApiKeyIssued:
    """Issue another API key for a tenant (shown once)."""
    _check_tenant(principal, tenant_id)
    principal.require("tenant:admin")
    return await tenant_service.issue_key(session, tenant_id, body.name, body.scopes)


@router.get("/tenants/{tenant_id}/api-keys", response_model=list[ApiKeyRead])
async def list_api_keys(
    tenant_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> list[ApiKeyRead]:
    """A tenant's API keys, without their secrets."""
    _check_tenant(principal, tenant_id)
    principal.require("tenant:admin")
    keys = await tenant_service.list_keys(session, tenant_id)
    return [ApiKeyRead.model_validate(k, from_attributes=True) for k in keys]


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead)
async def revoke_api_key(
    key_id: str, principal: CurrentPrincipal, session: DbSession
) -> ApiKeyRead:
    """Revoke a key; every service refuses it within seconds."""
    principal.require("tenant:admin")
    key = await tenant_service.revoke_key(session, principal, key_id)
    return ApiKeyRead.model_validate(key, from_attributes=True)


def _check_tenant(principal: CurrentPrincipal, tenant_id: UUID) -> None:
    if not principal.is_platform_admin and principal.tenant_id != tenant_id:
        raise NotFound("No such tenant.")
