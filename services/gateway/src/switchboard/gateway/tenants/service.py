"""Tenants and their API keys; every change is published on `tenants` for the auth replicas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.auth import TENANT_SCOPES, Principal, StoredKey, issue_key
from switchboard.common.db import Database
from switchboard.common.errors import NotFound
from switchboard.common.outbox import Outbox
from switchboard.contracts import ApiKeyChanged, ApiKeyData, Scope, TenantData, TenantUpserted
from switchboard.gateway.models import ApiKey, Tenant, outbox
from switchboard.gateway.tenants.schemas import ApiKeyIssued


class TenantService:
    def __init__(self) -> None:
        self.outbox = Outbox(outbox)

    async def create(self, session: AsyncSession, name: str) -> tuple[Tenant, ApiKeyIssued]:
        tenant = Tenant(name=name, active=True)
        session.add(tenant)
        await session.flush()
        await self.outbox.add(
            session,
            TenantUpserted.create(tenant.id, TenantData(name=name, active=True)),
            key=f"tenant:{tenant.id}".encode(),
        )
        issued = await self.issue_key(session, tenant.id, "initial", list(TENANT_SCOPES))
        await session.refresh(tenant)
        return tenant, issued

    async def get(self, session: AsyncSession, tenant_id: UUID) -> Tenant:
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound("No such tenant.")
        return tenant

    async def list_all(self, session: AsyncSession) -> list[Tenant]:
        return list((await session.scalars(select(Tenant).order_by(Tenant.created_at))).all())

    async def issue_key(
        self, session: AsyncSession, tenant_id: UUID, name: str, scopes: list[Scope]
    ) -> ApiKeyIssued:
        await self.get(session, tenant_id)
        issued = issue_key()
        key = ApiKey(
            key_id=issued.key_id,
            tenant_id=tenant_id,
            name=name,
            secret_hash=issued.secret_hash,
            scopes=list(scopes),
        )
        session.add(key)
        await session.flush()
        await session.refresh(key)
        await self._publish_key(session, key)
        return ApiKeyIssued(**_key_fields(key), api_key=issued.token)

    async def list_keys(self, session: AsyncSession, tenant_id: UUID) -> list[ApiKey]:
        statement = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)
        return list((await session.scalars(statement)).all())

    async def revoke_key(self, session: AsyncSession, principal: Principal, key_id: str) -> ApiKey:
        key = await session.get(ApiKey, key_id, with_for_update=True)
        if key is None or (
            not principal.is_platform_admin and key.tenant_id != principal.tenant_id
        ):
            raise NotFound("No such API key.")
        if key.revoked_at is None:
            key.revoked_at = datetime.now(UTC)
            await self._publish_key(session, key)
        return key

    async def republish_all(self, session: AsyncSession) -> None:
        """Publish every tenant and key again, so auth replicas heal from a lost topic."""
        for tenant in await self.list_all(session):
            data = TenantData(name=tenant.name, active=tenant.active)
            await self.outbox.add(
                session, TenantUpserted.create(tenant.id, data), key=f"tenant:{tenant.id}".encode()
            )
        for key in await session.scalars(select(ApiKey).order_by(ApiKey.created_at)):
            await self._publish_key(session, key)

    async def _publish_key(self, session: AsyncSession, key: ApiKey) -> None:
        data = ApiKeyData(
            key_id=key.key_id,
            secret_hash=key.secret_hash,
            scopes=tuple(cast(list[Scope], key.scopes)),
            revoked=key.revoked_at is not None,
        )
        await self.outbox.add(
            session, ApiKeyChanged.create(key.tenant_id, data), key=f"apikey:{key.key_id}".encode()
        )


def _key_fields(key: ApiKey) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "tenant_id": key.tenant_id,
        "name": key.name,
        "scopes": key.scopes,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


class DatabaseKeyStore:
    """The gateway owns the keys, so it checks them against its own tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def find(self, key_id: str) -> StoredKey | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(ApiKey, Tenant.active)
                    .join(Tenant, Tenant.id == ApiKey.tenant_id)
                    .where(ApiKey.key_id == key_id)
                )
            ).first()
        if row is None or not row.active:
            return None
        key = row.ApiKey
        return StoredKey(
            key_id=key.key_id,
            tenant_id=key.tenant_id,
            secret_hash=key.secret_hash,
            scopes=tuple(cast(list[Scope], key.scopes)),
            revoked=key.revoked_at is not None,
        )


tenant_service = TenantService()
