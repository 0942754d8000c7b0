"""Sender numbers: a tenant registers its numbers with the provider account behind them."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, status

from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.gateway.numbers.schemas import NumberCreate, NumberRead, NumberUpdate
from switchboard.gateway.numbers.service import number_service

router = APIRouter(prefix="/v1/numbers", tags=["numbers"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NumberRead)
async def register_number(
    body: NumberCreate, request: Request, principal: CurrentPrincipal, session: DbSession
) -> NumberRead:
    """Register a sender number; its provider credentials are stored encrypted, never returned."""
    principal.require("tenant:admin")
    number = await number_service.register(
        session, request.app.state.cipher, principal.tenant(), body
    )
    return NumberRead.model_validate(number, from_attributes=True)


@router.get("", response_model=list[NumberRead])
async def list_numbers(principal: CurrentPrincipal, session: DbSession) -> list[NumberRead]:
    """The tenant's sender numbers."""
    principal.require("messages:read")
    numbers = await number_service.list(session, principal.tenant())
    return [NumberRead.model_validate(n, from_attributes=True) for n in numbers]


@router.patch("/{number_id}", response_model=NumberRead)
async def update_number(
    number_id: UUID, body: NumberUpdate, principal: CurrentPrincipal, session: DbSession
) -> NumberRead:
    """Change a number's type or its own sending rate (messages per second)."""
    principal.require("tenant:admin")
    number = await number_service.update(session, principal.tenant(), number_id, body)
    return NumberRead.model_validate(number, from_attributes=True)
