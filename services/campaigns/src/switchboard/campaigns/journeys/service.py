"""Campaigns as operators manage them: written, versioned, activated, paused and disabled; the
contacts they enroll by hand; and how each step is doing."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi.exceptions import RequestValidationError
from sqlalchemy import Row, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.journeys import enrollment as enrollments
from switchboard.campaigns.journeys import jobs
from switchboard.campaigns.journeys.enrollment import Candidate
from switchboard.campaigns.journeys.schemas import (
    OUTCOMES,
    Audience,
    CampaignCreate,
    CampaignMetrics,
    CampaignUpdate,
    ContactRef,
    EnrollmentOutcome,
    StepMetrics,
    stored_steps,
)
from switchboard.campaigns.journeys.steps import Step, check_steps, parse_steps
from switchboard.campaigns.models import (
    Campaign,
    CampaignVersion,
    Contact,
    Enrollment,
    EnrollmentJob,
    EnrollmentStep,
    ScheduledSend,
)
from switchboard.campaigns.naming import save_named
from switchboard.common.errors import Conflict, NotFound

_UNIQUE_NAME = "uq_campaigns_tenant_id"  # (tenant_id, name), named by the metadata's convention

Lock = Literal["update", "share"]
StoredSteps = list[dict[str, Any]]
KnownContact = Row[UUID, str, bool]
"""A replica contact's id, address and whether it is blocked."""
"""A replica contact's id, address, display name, time zone, attributes, and blocked."""


class CampaignService:
    async def create(
        self, session: AsyncSession, tenant_id: UUID, body: CampaignCreate
    ) -> Campaign:
        """Store a new campaign, a draft at version 1; a name the tenant already uses is a 409."""
        campaign = Campaign(tenant_id=tenant_id, status="draft", version=1)
        await save_named(
            session, campaign, body.columns(), constraint=_UNIQUE_NAME, kind="campaign"
        )
        session.add(
            CampaignVersion(campaign_id=campaign.id, version=1, steps=stored_steps(body.steps))
        )
        await session.flush()
        return campaign

    async def list(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        *,
        status: str | None,
        limit: int,
        before: UUID | None,
    ) -> builtins.list[tuple[Campaign, StoredSteps]]:
        """The tenant's campaigns with their current steps, newest first (ids are UUIDv7)."""
        statement = (
            select(Campaign, CampaignVersion.steps)
            .join(
                CampaignVersion,
                (CampaignVersion.campaign_id == Campaign.id)
                & (CampaignVersion.version == Campaign.version),
            )
            .where(Campaign.tenant_id == tenant_id)
        )
        if status is not None:
            statement = statement.where(Campaign.status == status)
        if before is not None:
            statement = statement.where(Campaign.id < before)
        rows = await session.execute(statement.order_by(Campaign.id.desc()).limit(limit))
        return [(campaign, steps) for campaign, steps in rows]

    async def get(
        self, session: AsyncSession, tenant_id: UUID, campaign_id: UUID, *, lock: Lock | None = None
    ) -> Campaign:
        """One campaign, locked if asked (`share`: against a change of status or version);
        another tenant's campaign is a 404."""
        statement = select(Campaign).where(
            Campaign.id == campaign_id, Campaign.tenant_id == tenant_id
        )
        if lock is not None:
            statement = statement.with_for_update(read=lock == "share")
        campaign = await session.scalar(statement)
        if campaign is None:
            raise NotFound("No such campaign.")
        return campaign

    async def steps(self, session: AsyncSession, campaign: Campaign) -> StoredSteps:
        """The steps of the campaign's current version, in their stored form."""
        statement = select(CampaignVersion.steps).where(
            CampaignVersion.campaign_id == campaign.id, CampaignVersion.version == campaign.version
        )
        steps: StoredSteps = (await session.scalars(statement)).one()
        return steps

    async def update(
        self, session: AsyncSession, tenant_id: UUID, campaign_id: UUID, body: CampaignUpdate
    ) -> Campaign:
        """Change the fields sent; new steps or event attributes make a new version, checked
        whole, which contacts enrolled from now on go through."""
        campaign = await self.get(session, tenant_id, campaign_id, lock="update")
        if campaign.status == "disabled":
            raise Conflict("The campaign is disabled: it cannot be changed any more.")
        sent = body.columns()
        changes = {name: value for name, value in sent.items() if getattr(campaign, name) != value}
        current = await self.steps(session, campaign)
        steps = current if body.steps is None else stored_steps(body.steps)
        if body.steps is not None:
            attributes = sent.get("event_attributes", campaign.event_attributes)
            _check(body.steps, attributes, "steps", steps)
        elif "event_attributes" in changes:
            attributes = changes["event_attributes"]
            _check(parse_steps(current), attributes, "event_attributes", attributes)
        versioned = steps != current or "event_attributes" in changes
        if not changes and not versioned:
            return campaign
        if versioned:
            changes["version"] = campaign.version + 1
        changes |= {"updated_at": func.now()}
        await save_named(session, campaign, changes, constraint=_UNIQUE_NAME, kind="campaign")
        if versioned:
            session.add(
                CampaignVersion(campaign_id=campaign.id, version=campaign.version, steps=steps)
            )
            await session.flush()
        return campaign

    async def activate(self, session: AsyncSession, tenant_id: UUID, campaign_id: UUID) -> Campaign:
        """A draft starts taking contacts; a paused campaign goes on where it was."""
        campaign = await self.get(session, tenant_id, campaign_id, lock="update")
        _require(campaign, ("draft", "paused"), "a draft or paused campaign can be activated")
        if campaign.status == "paused":
            await enrollments.resume(session, campaign)
        else:
            campaign.status = "active"
        await _touch(session, campaign)
        return campaign

    async def pause(self, session: AsyncSession, tenant_id: UUID, campaign_id: UUID) -> Campaign:
        """Nothing in the campaign moves or sends until it is activated again."""
        campaign = await self.get(session, tenant_id, campaign_id, lock="update")
        _require(campaign, ("active",), "an active campaign can be paused")
        await enrollments.pause(session, campaign)
        await _touch(session, campaign)
        return campaign

    async def disable(
        self, session: AsyncSession, tenant_id: UUID, campaign_id: UUID, now: datetime
    ) -> tuple[Campaign, int]:
        """Every contact leaves the campaign and its waiting sends are cancelled, for good;
        returns the campaign and how many contacts left."""
        campaign = await self.get(session, tenant_id, campaign_id, lock="update")
        _require(campaign, ("draft", "active", "paused"), "a campaign not disabled can be disabled")
        exited = await enrollments.disable(session, campaign, now)
        await _touch(session, campaign)
        return campaign, exited

    async def metrics(
        self, session: AsyncSession, tenant_id: UUID, campaign_id: UUID
    ) -> CampaignMetrics:
        """Enrollments by status and exit reason, and per step what happened and how its sends
        fared. The steps are the current version's; each step's counts are by position, from
        every version (a step moved by an edit mixes its old and new occupant's counts)."""
        campaign = await self.get(session, tenant_id, campaign_id)
        steps = parse_steps(await self.steps(session, campaign))
        totals = await _enrollment_totals(session, campaign.id)
        return CampaignMetrics.model_validate(
            totals | {"steps": await _step_metrics(session, campaign.id, steps)}
        )


def _check(
    steps: Sequence[Step], event_attributes: Sequence[str], field: str, sent: object
) -> None:
    """A 422 on `field` (`sent`), in the API's usual shape, if the steps cannot run against the
    event attributes the campaign would declare."""
    try:
        check_steps(steps, event_attributes)
    except ValueError as error:
        raise RequestValidationError(
            [{"type": "steps", "loc": ("body", field), "msg": str(error), "input": sent}]
        ) from None


def _require(campaign: Campaign, allowed: tuple[str, ...], rule: str) -> None:
    if campaign.status not in allowed:
        raise Conflict(f"The campaign is {campaign.status}: only {rule}.")


async def _touch(session: AsyncSession, campaign: Campaign) -> None:
    campaign.updated_at = func.now()
    await session.flush()
    await session.refresh(campaign)


async def _enrollment_totals(session: AsyncSession, campaign_id: UUID) -> dict[str, Any]:
    statement = (
        select(Enrollment.status, Enrollment.reason, func.count())
        .where(Enrollment.campaign_id == campaign_id)
        .group_by(Enrollment.status, Enrollment.reason)
    )
    totals: dict[str, Any] = {"enrolled": 0, "active": 0, "completed": 0, "exited": 0}
    reasons: dict[str, int] = {}
    for status, reason, count in await session.execute(statement):
        totals["enrolled"] += count
        totals[status] = totals.get(status, 0) + count
        if status == "exited":
            key = reason or "unknown"
            reasons[key] = reasons.get(key, 0) + count
    return totals | {"exit_reasons": reasons}


_DELIVERED = frozenset({"delivered", "read"})
_FAILED = frozenset({"failed", "undelivered", "refused"})
_SEND_STATUSES = {
    "scheduled": "sends_waiting",
    "paused": "sends_waiting",
    "sent": "sent",
    "skipped": "sends_skipped",
    "cancelled": "sends_cancelled",
}


async def _step_metrics(
    session: AsyncSession, campaign_id: UUID, steps: Sequence[Step]
) -> builtins.list[StepMetrics]:
    counts: builtins.list[dict[str, Any]] = [
        {"step": index, "type": step.type, "id": step.id} for index, step in enumerate(steps)
    ]

    def add(index: int | None, field: str, count: int) -> None:
        # Positions past the current version's steps (an older, longer one) are not shown.
        if index is not None and index < len(counts):
            counts[index][field] = counts[index].get(field, 0) + count

    outcomes = (
        select(EnrollmentStep.step, EnrollmentStep.outcome, func.count())
        .where(EnrollmentStep.campaign_id == campaign_id)
        .group_by(EnrollmentStep.step, EnrollmentStep.outcome)
    )
    for index, outcome, count in await session.execute(outcomes):
        if outcome in OUTCOMES:
            add(index, outcome, count)
    sends = (
        select(
            ScheduledSend.step, ScheduledSend.status, ScheduledSend.delivery_status, func.count()
        )
        .where(ScheduledSend.campaign_id == campaign_id)
        .group_by(ScheduledSend.step, ScheduledSend.status, ScheduledSend.delivery_status)
    )
    for position, status, delivery, count in await session.execute(sends):
        if status in _SEND_STATUSES:
            add(position, _SEND_STATUSES[status], count)
        if status == "sent" and delivery in _DELIVERED:
            add(position, "delivered", count)
        if status == "sent" and delivery in _FAILED:
            add(position, "failed", count)
    return [StepMetrics.model_validate(step) for step in counts]


class EnrollmentService:
    async def enroll_contacts(
        self,
        session: AsyncSession,
        campaign: Campaign,
        refs: Sequence[ContactRef],
        now: datetime,
    ) -> EnrollmentOutcome:
        """Enroll the contacts named, by address or by id in the contacts replica; blocked and
        unknown contacts, and those the campaign does not take again, are skipped."""
        _require_open(campaign)
        ids = [ref.contact_id for ref in refs if ref.contact_id is not None]
        addresses = [ref.address for ref in refs if ref.address is not None]
        known = await _known_contacts(session, campaign.tenant_id, ids, addresses)
        by_id = {contact.contact_id: contact for contact in known}
        by_address: dict[str, KnownContact] = {}
        for contact in known:
            by_address.setdefault(contact.address, contact)  # the most recently changed
        named = [by_id[i] for i in ids if i in by_id]
        named += [by_address[a] for a in addresses if a in by_address]
        candidates = [Candidate(c.address, contact_id=c.contact_id) for c in named if not c.blocked]
        # An address campaigns knows no contact at (yet) enters as it is.
        candidates += [Candidate(address) for address in addresses if address not in by_address]
        not_found = [contact_id for contact_id in ids if contact_id not in by_id]
        entered = await enrollments.enroll(session, campaign, candidates, now)
        return EnrollmentOutcome(
            enrolled=len(entered),
            skipped=len(refs) - len(entered),
            enrollment_ids=entered,
            not_found=not_found,
        )

    async def start_audience(
        self,
        session: AsyncSession,
        campaign: Campaign,
        audience: Audience | Literal["all"],
        now: datetime,
    ) -> EnrollmentJob:
        """Record the enrollment of an audience, which the worker carries out in chunks."""
        _require_open(campaign)
        condition = None if audience == "all" else audience.condition
        job = jobs.start(session, campaign, condition, now)
        await session.flush()
        return job

    async def job(self, session: AsyncSession, campaign: Campaign, job_id: UUID) -> EnrollmentJob:
        """One of the campaign's audience enrollments; another's is a 404."""
        job = await jobs.get(session, campaign, job_id)
        if job is None:
            raise NotFound("No such enrollment job in this campaign.")
        return job

    async def list(
        self,
        session: AsyncSession,
        campaign: Campaign,
        *,
        status: str | None,
        address: str | None,
        limit: int,
        before: UUID | None,
    ) -> builtins.list[Enrollment]:
        """The campaign's enrollments, newest first."""
        statement = select(Enrollment).where(
            Enrollment.campaign_id == campaign.id, Enrollment.tenant_id == campaign.tenant_id
        )
        if status is not None:
            statement = statement.where(Enrollment.status == status)
        if address is not None:
            statement = statement.where(Enrollment.address == address)
        if before is not None:
            statement = statement.where(Enrollment.id < before)
        statement = statement.order_by(Enrollment.id.desc()).limit(limit)
        return list((await session.scalars(statement)).all())

    async def get(
        self, session: AsyncSession, campaign: Campaign, enrollment_id: UUID, *, lock: bool = False
    ) -> Enrollment:
        """One enrollment of the campaign (locked if `lock`)."""
        statement = select(Enrollment).where(
            Enrollment.id == enrollment_id,
            Enrollment.campaign_id == campaign.id,
            Enrollment.tenant_id == campaign.tenant_id,
        )
        if lock:
            statement = statement.with_for_update()
        enrollment = await session.scalar(statement)
        if enrollment is None:
            raise NotFound("No such enrollment in this campaign.")
        return enrollment

    async def path(
        self, session: AsyncSession, enrollment: Enrollment
    ) -> builtins.list[EnrollmentStep]:
        """What happened to the enrollment at each step, in order."""
        statement = (
            select(EnrollmentStep)
            .where(EnrollmentStep.enrollment_id == enrollment.id)
            .order_by(EnrollmentStep.id)
        )
        return list((await session.scalars(statement)).all())

    async def remove(
        self, session: AsyncSession, campaign: Campaign, enrollment_id: UUID, now: datetime
    ) -> Enrollment:
        """Take the contact out of the campaign and cancel its waiting sends; an enrollment
        that has ended already is a 409."""
        enrollment = await self.get(session, campaign, enrollment_id, lock=True)
        if enrollment.status != "active":
            raise Conflict(f"The enrollment has {enrollment.status} already.")
        await enrollments.end(
            session, [enrollment.id], status="exited", reason="removed by an operator", now=now
        )
        await session.refresh(enrollment)
        return enrollment


def _require_open(campaign: Campaign) -> None:
    if campaign.status != "active":
        raise Conflict(
            f"The campaign is {campaign.status}: contacts are enrolled only while it is active."
        )
    if campaign.event_attributes:
        # Its steps read the enrolling event's attributes, which a hand enrollment does not have.
        raise Conflict(
            "The campaign's steps read event attributes "
            f"({', '.join(campaign.event_attributes)}): contacts enter it through events only."
        )


async def _known_contacts(
    session: AsyncSession, tenant_id: UUID, ids: Sequence[UUID], addresses: Sequence[str]
) -> Sequence[KnownContact]:
    """The replica's contacts with these ids or addresses, most recently changed first."""
    statement = (
        select(Contact.contact_id, Contact.address, Contact.blocked)
        .where(
            Contact.tenant_id == tenant_id,
            or_(Contact.contact_id.in_(ids), Contact.address.in_(addresses)),
        )
        .order_by(Contact.updated_at.desc())
    )
    return (await session.execute(statement)).all()


campaign_service = CampaignService()
enrollment_service = EnrollmentService()
