"""Rules API: "when event X arrives and these conditions hold, send message Y"."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Query, Response, status

from switchboard.campaigns.events.schemas import EVENT_TYPE_PATTERN
from switchboard.campaigns.rules.schemas import RuleCreate, RuleRead, RuleUpdate
from switchboard.campaigns.rules.service import rule_service
from switchboard.common.http import CurrentPrincipal, DbSession

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/rules", tags=["rules"])

_NAME_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "The tenant already has a rule of this name."}
}


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=RuleRead, responses=_NAME_TAKEN
)
async def create_rule(
    body: RuleCreate, principal: CurrentPrincipal, session: DbSession
) -> RuleRead:
    """Create a rule; its condition and template are checked now, not when it fires."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    rule = await rule_service.create(session, tenant_id, body)
    log.info("rules.created", tenant_id=str(tenant_id), rule_id=str(rule.id))
    return RuleRead.of(rule)


@router.get("", response_model=list[RuleRead])
async def list_rules(
    principal: CurrentPrincipal,
    session: DbSession,
    event_type: Annotated[str | None, Query(pattern=EVENT_TYPE_PATTERN, max_length=100)] = None,
    enabled: Annotated[bool | None, Query(description="Only enabled, or disabled, rules.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[UUID | None, Query(description="Only rules older than this id.")] = None,
) -> list[RuleRead]:
    """The tenant's rules, newest first, optionally for one event type or enabled state."""
    principal.require("messages:read")
    rules = await rule_service.list(
        session,
        principal.tenant(),
        event_type=event_type,
        enabled=enabled,
        limit=limit,
        before=before,
    )
    return [RuleRead.of(rule) for rule in rules]


@router.get("/{rule_id}", response_model=RuleRead)
async def get_rule(rule_id: UUID, principal: CurrentPrincipal, session: DbSession) -> RuleRead:
    """One rule."""
    principal.require("messages:read")
    return RuleRead.of(await rule_service.get(session, principal.tenant(), rule_id))


@router.patch("/{rule_id}", response_model=RuleRead, responses=_NAME_TAKEN)
async def update_rule(
    rule_id: UUID, body: RuleUpdate, principal: CurrentPrincipal, session: DbSession
) -> RuleRead:
    """Change a rule (`{"enabled": false}` pauses it); any change raises its `version`."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    rule = await rule_service.update(session, tenant_id, rule_id, body)
    log.info("rules.updated", tenant_id=str(tenant_id), rule_id=str(rule.id), version=rule.version)
    return RuleRead.of(rule)


@router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(rule_id: UUID, principal: CurrentPrincipal, session: DbSession) -> Response:
    """Delete a rule: no event fires it any more."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    await rule_service.delete(session, tenant_id, rule_id)
    log.info("rules.deleted", tenant_id=str(tenant_id), rule_id=str(rule_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
