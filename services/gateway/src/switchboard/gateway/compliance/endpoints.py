"""Compliance API: a tenant's consent ledger, keywords, kill switch, countries and budget."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.http import CurrentPrincipal, DbSession
from switchboard.gateway.addresses import to_e164
from switchboard.gateway.compliance.ledger import ConsentRequest, ConsentStatus, consent_ledger
from switchboard.gateway.compliance.schemas import (
    ComplianceSettingsRead,
    ComplianceSettingsUpdate,
    ConsentChangeRead,
    ConsentRead,
    ConsentWrite,
    KeywordSetRead,
    KeywordSetWrite,
)
from switchboard.gateway.compliance.service import compliance_service, keyword_set_read

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])


@router.get("/settings", response_model=ComplianceSettingsRead)
async def get_settings(principal: CurrentPrincipal, session: DbSession) -> ComplianceSettingsRead:
    """The tenant's outbound rules and today's sends."""
    principal.require("messages:read")
    return await compliance_service.read(session, principal.tenant())


@router.patch("/settings", response_model=ComplianceSettingsRead)
async def update_settings(
    body: ComplianceSettingsUpdate, principal: CurrentPrincipal, session: DbSession
) -> ComplianceSettingsRead:
    """Set the help text, the allowed destination countries or the daily send budget."""
    principal.require("tenant:admin")
    return await compliance_service.update(session, principal.tenant(), body)


@router.post("/outbound/pause", response_model=ComplianceSettingsRead)
async def pause_outbound(principal: CurrentPrincipal, session: DbSession) -> ComplianceSettingsRead:
    """Kill switch: hold every outbound message of the tenant until resumed (none is lost)."""
    principal.require("tenant:admin")
    return await compliance_service.pause(session, principal.tenant())


@router.post("/outbound/resume", response_model=ComplianceSettingsRead)
async def resume_outbound(
    principal: CurrentPrincipal, session: DbSession
) -> ComplianceSettingsRead:
    """Release the held messages: they are sent as if just queued."""
    principal.require("tenant:admin")
    return await compliance_service.resume(session, principal.tenant())


@router.get("/keywords", response_model=list[KeywordSetRead])
async def list_keywords(principal: CurrentPrincipal, session: DbSession) -> list[KeywordSetRead]:
    """The tenant's own keywords per language (STOP, START, HELP and the rest always apply)."""
    principal.require("messages:read")
    sets = await compliance_service.keyword_sets(session, principal.tenant())
    return [keyword_set_read(s) for s in sets]


@router.put("/keywords/{language}", response_model=KeywordSetRead)
async def set_keywords(
    language: str,
    body: KeywordSetWrite,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
) -> KeywordSetRead:
    """Replace the tenant's keywords and confirmations in one language."""
    principal.require("tenant:admin")
    written = await compliance_service.set_keywords(session, principal.tenant(), language, body)
    request.app.state.compliance.forget(principal.tenant())
    return written


@router.delete("/keywords/{language}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_keywords(
    language: str, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Remove the tenant's keywords in one language."""
    principal.require("tenant:admin")
    await compliance_service.delete_keywords(session, principal.tenant(), language)
    request.app.state.compliance.forget(principal.tenant())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/consents/{address}", response_model=ConsentRead)
async def get_consent(address: str, principal: CurrentPrincipal, session: DbSession) -> ConsentRead:
    """An address's consent and every change to it (who, when, which words, which channel)."""
    principal.require("messages:read")
    return await _consent(session, principal.tenant(), to_e164(address))


@router.post("/consents/{address}/opt-out", response_model=ConsentRead)
async def opt_out(
    address: str, body: ConsentWrite, principal: CurrentPrincipal, session: DbSession
) -> ConsentRead:
    """Opt an address out for every number and channel of the tenant (published on `consent`)."""
    return await _change(address, body, principal, session, "opted_out")


@router.post("/consents/{address}/opt-in", response_model=ConsentRead)
async def opt_in(
    address: str, body: ConsentWrite, principal: CurrentPrincipal, session: DbSession
) -> ConsentRead:
    """Opt an address back in (published on `consent`)."""
    return await _change(address, body, principal, session, "opted_in")


async def _change(
    address: str,
    body: ConsentWrite,
    principal: CurrentPrincipal,
    session: DbSession,
    status_: ConsentStatus,
) -> ConsentRead:
    principal.require("tenant:admin")
    tenant_id, normal = principal.tenant(), to_e164(address)
    request = ConsentRequest(
        status=status_, source=body.source, channel=body.channel, words=body.note
    )
    await consent_ledger.change(session, tenant_id, normal, request)
    return await _consent(session, tenant_id, normal)


async def _consent(session: AsyncSession, tenant_id: UUID, address: str) -> ConsentRead:
    history = await consent_ledger.history(session, tenant_id, address)
    return ConsentRead(
        address=address,
        status=cast(ConsentStatus, history[-1].status) if history else "unknown",
        history=[ConsentChangeRead.model_validate(h, from_attributes=True) for h in history],
    )
