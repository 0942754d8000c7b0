"""The sandbox outbox: what the sandbox transport kept instead of sending."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.gateway.models import SandboxMessage

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])


class SandboxMessageRead(BaseModel):
    message_id: UUID
    channel: str
    from_address: str
    to_address: str
    body: str
    created_at: datetime
    sandbox: bool = True


@router.get("/messages", response_model=list[SandboxMessageRead])
async def list_sandbox_messages(
    principal: CurrentPrincipal,
    session: DbSession,
    to: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[SandboxMessageRead]:
    """Messages the sandbox transport kept (nothing was sent to a carrier), newest first."""
    principal.require("messages:read")
    statement = select(SandboxMessage).where(SandboxMessage.tenant_id == principal.tenant())
    if to is not None:
        statement = statement.where(SandboxMessage.to_address == to)
    rows = await session.scalars(statement.order_by(SandboxMessage.created_at.desc()).limit(limit))
    return [SandboxMessageRead.model_validate(r, from_attributes=True) for r in rows]
