"""Campaigns API: multi-step journeys, their lifecycle, the contacts in them, and how each step
is doing."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Query, status

from switchboard.campaigns.addresses import E164
from switchboard.campaigns.journeys.schemas import (
    CampaignCreate,
    CampaignDisabled,
    CampaignMetrics,
    CampaignRead,
    CampaignStatus,
    CampaignUpdate,
    EnrollmentCreate,
    EnrollmentDetail,
    EnrollmentJobRead,
    EnrollmentOutcome,
    EnrollmentRead,
    EnrollmentStatus,
)
from switchboard.campaigns.journeys.service import campaign_service, enrollment_service
from switchboard.campaigns.schedule.clock import CurrentClock
from switchboard.common.http import CurrentPrincipal, DbSession

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])


_NAME_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "The tenant already has a campaign of this name, or it is disabled."}
}
_WRONG_STATUS: dict[int | str, dict[str, Any]] = {
    409: {"description": "The campaign's status does not allow this."}
}


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=CampaignRead, responses=_NAME_TAKEN
)
async def create_campaign(
    body: CampaignCreate, principal: CurrentPrincipal, session: DbSession
) -> CampaignRead:
    """Create a campaign, a draft until activated; its steps are checked now, not when they run."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    campaign = await campaign_service.create(session, tenant_id, body)
    log.info("campaigns.created", tenant_id=str(tenant_id), campaign_id=str(campaign.id))
    return CampaignRead.of(campaign, await campaign_service.steps(session, campaign))


@router.get("", response_model=list[CampaignRead])
async def list_campaigns(
    principal: CurrentPrincipal,
    session: DbSession,
    status: CampaignStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[UUID | None, Query(description="Only campaigns older than this id.")] = None,
) -> list[CampaignRead]:
    """The tenant's campaigns, newest first, optionally in one status."""
    principal.require("messages:read")
    campaigns = await campaign_service.list(
        session, principal.tenant(), status=status, limit=limit, before=before
    )
    return [CampaignRead.of(campaign, steps) for campaign, steps in campaigns]


@router.get("/{campaign_id}", response_model=CampaignRead)
async def get_campaign(
    campaign_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> CampaignRead:
    """One campaign, with its current version's steps."""
    principal.require("messages:read")
    campaign = await campaign_service.get(session, principal.tenant(), campaign_id)
    return CampaignRead.of(campaign, await campaign_service.steps(session, campaign))


@router.patch("/{campaign_id}", response_model=CampaignRead, responses=_NAME_TAKEN)
async def update_campaign(
    campaign_id: UUID, body: CampaignUpdate, principal: CurrentPrincipal, session: DbSession
) -> CampaignRead:
    """Change a campaign; new `steps` or `event_attributes` raise its `version`, and contacts
    already in it finish on the version they started."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    campaign = await campaign_service.update(session, tenant_id, campaign_id, body)
    log.info(
        "campaigns.updated",
        tenant_id=str(tenant_id),
        campaign_id=str(campaign.id),
        version=campaign.version,
    )
    return CampaignRead.of(campaign, await campaign_service.steps(session, campaign))


@router.post("/{campaign_id}/activate", response_model=CampaignRead, responses=_WRONG_STATUS)
async def activate_campaign(
    campaign_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> CampaignRead:
    """Start a draft, or resume a paused campaign where it was."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    campaign = await campaign_service.activate(session, tenant_id, campaign_id)
    log.info("campaigns.activated", tenant_id=str(tenant_id), campaign_id=str(campaign.id))
    return CampaignRead.of(campaign, await campaign_service.steps(session, campaign))


@router.post("/{campaign_id}/pause", response_model=CampaignRead, responses=_WRONG_STATUS)
async def pause_campaign(
    campaign_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> CampaignRead:
    """Pause an active campaign: nothing in it moves or sends until it is activated again."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    campaign = await campaign_service.pause(session, tenant_id, campaign_id)
    log.info("campaigns.paused", tenant_id=str(tenant_id), campaign_id=str(campaign.id))
    return CampaignRead.of(campaign, await campaign_service.steps(session, campaign))


@router.post("/{campaign_id}/disable", response_model=CampaignDisabled, responses=_WRONG_STATUS)
async def disable_campaign(
    campaign_id: UUID, principal: CurrentPrincipal, session: DbSession, clock: CurrentClock
) -> CampaignDisabled:
    """Disable a campaign for good: every contact in it leaves, and its waiting sends are
    cancelled."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    campaign, exited = await campaign_service.disable(session, tenant_id, campaign_id, clock.now())
    log.info(
        "campaigns.disabled", tenant_id=str(tenant_id), campaign_id=str(campaign.id), exited=exited
    )
    steps = await campaign_service.steps(session, campaign)
    return CampaignDisabled.after(campaign, steps, exited)


@router.get("/{campaign_id}/metrics", response_model=CampaignMetrics)
async def campaign_metrics(
    campaign_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> CampaignMetrics:
    """Contacts by status and exit reason, and per step of the current version what happened
    there and how its sends fared (counted by step position over every version)."""
    principal.require("messages:read")
    return await campaign_service.metrics(session, principal.tenant(), campaign_id)


@router.post(
    "/{campaign_id}/enrollments",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EnrollmentOutcome | EnrollmentJobRead,
    response_model_exclude_none=True,
    responses={409: {"description": "The campaign is not active, or takes contacts by events."}},
)
async def enroll_contacts(
    campaign_id: UUID,
    body: EnrollmentCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    clock: CurrentClock,
) -> EnrollmentOutcome | EnrollmentJobRead:
    """Enroll contacts in an active campaign: those listed (by address or contact_id), at once;
    or an audience of the tenant's contacts, in the background (the answer is the job, to follow
    at `GET .../enrollment-jobs/{id}`). Contacts already in it, blocked or unknown, and (unless
    it re-enrolls) those who were in it before, are skipped."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    campaign = await campaign_service.get(session, tenant_id, campaign_id, lock="share")
    if body.contacts is None:
        assert body.audience is not None  # one or the other, validated
        job = await enrollment_service.start_audience(session, campaign, body.audience, clock.now())
        log.info("campaigns.audience_enrolling", tenant_id=str(tenant_id), job_id=str(job.id))
        return EnrollmentJobRead.model_validate(job, from_attributes=True)
    outcome = await enrollment_service.enroll_contacts(
        session, campaign, body.contacts, clock.now()
    )
    log.info(
        "campaigns.enrolled",
        tenant_id=str(tenant_id),
        campaign_id=str(campaign.id),
        enrolled=outcome.enrolled,
        skipped=outcome.skipped,
    )
    return outcome


@router.get(
    "/{campaign_id}/enrollment-jobs/{job_id}",
    response_model=EnrollmentJobRead,
)
async def get_enrollment_job(
    campaign_id: UUID, job_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> EnrollmentJobRead:
    """An audience's enrollment: how far it has got."""
    principal.require("messages:read")
    campaign = await campaign_service.get(session, principal.tenant(), campaign_id)
    job = await enrollment_service.job(session, campaign, job_id)
    return EnrollmentJobRead.model_validate(job, from_attributes=True)


@router.get("/{campaign_id}/enrollments", response_model=list[EnrollmentRead])
async def list_enrollments(
    campaign_id: UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    status: EnrollmentStatus | None = None,
    address: Annotated[str | None, Query(pattern=E164.pattern)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        UUID | None, Query(description="Only enrollments older than this id.")
    ] = None,
) -> list[EnrollmentRead]:
    """The campaign's enrollments, newest first, optionally in one status or for one address."""
    principal.require("messages:read")
    campaign = await campaign_service.get(session, principal.tenant(), campaign_id)
    enrollments = await enrollment_service.list(
        session, campaign, status=status, address=address, limit=limit, before=before
    )
    return [EnrollmentRead.of(enrollment) for enrollment in enrollments]


@router.get("/{campaign_id}/enrollments/{enrollment_id}", response_model=EnrollmentDetail)
async def get_enrollment(
    campaign_id: UUID, enrollment_id: UUID, principal: CurrentPrincipal, session: DbSession
) -> EnrollmentDetail:
    """One enrollment, with the contact's path: what happened at each step, in order."""
    principal.require("messages:read")
    campaign = await campaign_service.get(session, principal.tenant(), campaign_id)
    enrollment = await enrollment_service.get(session, campaign, enrollment_id)
    path = await enrollment_service.path(session, enrollment)
    return EnrollmentDetail.with_path(enrollment, path)


@router.delete(
    "/{campaign_id}/enrollments/{enrollment_id}",
    response_model=EnrollmentRead,
    responses={409: {"description": "The enrollment has ended already."}},
)
async def remove_enrollment(
    campaign_id: UUID,
    enrollment_id: UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    clock: CurrentClock,
) -> EnrollmentRead:
    """Take a contact out of the campaign ("removed by an operator"); its waiting sends are
    cancelled."""
    principal.require("messages:write")
    tenant_id = principal.tenant()
    campaign = await campaign_service.get(session, tenant_id, campaign_id)
    enrollment = await enrollment_service.remove(session, campaign, enrollment_id, clock.now())
    log.info(
        "campaigns.enrollment_removed",
        tenant_id=str(tenant_id),
        campaign_id=str(campaign.id),
        enrollment_id=str(enrollment.id),
    )
    return EnrollmentRead.of(enrollment)
