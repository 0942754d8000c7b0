from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from switchboard.common.auth import TENANT_SCOPES
from switchboard.contracts import Scope


class TenantCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class ApiKeyCreate(BaseModel):
    name: str = Field(default="default", min_length=1, max_length=200)
    scopes: list[Scope] = Field(default_factory=lambda: list(TENANT_SCOPES))


class ApiKeyRead(BaseModel):
    key_id: str
    tenant_id: UUID
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyRead):
    api_key: str = Field(description="The whole key. Shown once; store it now.")


class TenantRead(BaseModel):
    id: UUID
    name: str
    active: bool
    created_at: datetime


class TenantCreated(TenantRead):
    api_key: ApiKeyIssued
