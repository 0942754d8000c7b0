"""Sending-policy API: a tenant's quiet hours, per region too, and its frequency cap."""

from __future__ import annotations

import structlog
from fastapi import APIRouter

from switchboard.campaigns.policy.schemas import PLATFORM_SEND_WINDOW, PolicyRead, PolicyWrite
from switchboard.campaigns.policy.service import Policy, policy_service
from switchboard.common.http import CurrentPrincipal, DbSession

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/sending-policy", tags=["sending policy"])


@router.get("", response_model=PolicyRead)
async def get_policy(principal: CurrentPrincipal, session: DbSession) -> PolicyRead:
    """The tenant's sending policy, or the defaults if it never set one, with the windows that
    apply once the platform's is taken into account."""
    principal.require("messages:read")
    return _read(await policy_service.get(session, principal.tenant()))


@router.put("", response_model=PolicyRead)
async def put_policy(
    body: PolicyWrite, principal: CurrentPrincipal, session: DbSession
) -> PolicyRead:
    """Replace the tenant's sending policy; windows wider than the platform's are narrowed to it
    (see `effective_send_window`)."""
    principal.require("tenant:admin")
    tenant_id = principal.tenant()
    policy = await policy_service.put(session, tenant_id, body)
    log.info("sending_policy.replaced", tenant_id=str(tenant_id), regions=len(body.region_windows))
    return _read(policy)


def _read(policy: Policy) -> PolicyRead:
    return PolicyRead(
        send_window=policy.send_window,
        region_windows=dict(policy.region_windows),
        default_time_zone=policy.default_time_zone,
        frequency_cap=policy.frequency_cap,
        effective_send_window=policy.effective_send_window,
        effective_region_windows=policy.effective_region_windows(),
        platform_send_window=PLATFORM_SEND_WINDOW,
        updated_at=policy.updated_at,
    )
