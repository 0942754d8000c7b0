"""Audiences enrolled in the background: `POST .../enrollments {"audience": ...}` records a job,
and the worker's journey runners enroll its contacts a chunk at a time, each chunk its own
transaction with the job's progress, so a large audience holds no request, its first contacts
are under way while the last are still being enrolled, and a restart resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.contacts.service import contact_facts
from switchboard.campaigns.journeys import enrollment
from switchboard.campaigns.journeys.enrollment import CHUNK, Candidate
from switchboard.campaigns.models import Campaign, Contact, EnrollmentJob
from switchboard.campaigns.rules.conditions import Condition, evaluate, parse_condition
from switchboard.common.db import Database


def start(
    session: AsyncSession, campaign: Campaign, condition: Condition | None, now: datetime
) -> EnrollmentJob:
    """Record a job enrolling the campaign's tenant's contacts the condition picks (all of them
    without one); the runners take it from there."""
    job = EnrollmentJob(
        tenant_id=campaign.tenant_id,
        campaign_id=campaign.id,
        condition=None if condition is None else condition.model_dump(mode="json", by_alias=True),
        status="running",
        enrolled=0,
        skipped=0,
        created_at=now,
    )
    session.add(job)
    return job


async def enroll_next_chunk(db: Database, now: datetime) -> bool:
    """Enroll the next chunk of contacts of one running job (one no other runner holds), or
    finish it; whether there was one."""
    async with db.transaction() as session:
        statement = (
            select(EnrollmentJob)
            .where(EnrollmentJob.status == "running")
            .order_by(EnrollmentJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        job = (await session.scalars(statement)).first()
        if job is None:
            return False
        campaign = await session.get(Campaign, job.campaign_id)
        if campaign is None or campaign.status != "active":
            job.status, job.finished_at = "stopped", now
            job.reason = "the campaign is no longer active"
            return True
        condition = parse_condition(job.condition)
        chunk = await _contacts(session, job, facts=condition is not None)
        if not chunk:
            job.status, job.finished_at = "done", now
            if job.enrolled >= CHUNK:
                await enrollment.refresh_statistics(session)
            return True
        picked = [row for row in chunk if condition is None or evaluate(condition, _facts(row))]
        candidates = [
            Candidate(address=row.address, contact_id=row.contact_id)
            for row in picked
            if not row.blocked
        ]
        entered = await enrollment.enroll(session, campaign, candidates, now, analyze=False)
        job.enrolled += len(entered)
        job.skipped += len(picked) - len(entered)
        job.after_contact_id = chunk[-1].contact_id
    return True


async def _contacts(
    session: AsyncSession, job: EnrollmentJob, *, facts: bool
) -> Sequence[Row[Any]]:
    """The job's next `CHUNK` contacts in id order; with what a condition reads about them only
    if there is one (`facts`)."""
    columns: tuple[Any, ...] = (Contact.contact_id, Contact.address, Contact.blocked)
    if facts:
        columns += (Contact.display_name, Contact.time_zone, Contact.attributes)
    statement = select(*columns).where(Contact.tenant_id == job.tenant_id)
    if job.after_contact_id is not None:
        statement = statement.where(Contact.contact_id > job.after_contact_id)
    statement = statement.order_by(Contact.contact_id).limit(CHUNK)
    return (await session.execute(statement)).all()


def _facts(row: Row[Any]) -> dict[str, object]:
    """What an audience's condition reads about a contact."""
    return {"contact": contact_facts(row.address, row)}


async def get(session: AsyncSession, campaign: Campaign, job_id: UUID) -> EnrollmentJob | None:
    job = await session.get(EnrollmentJob, job_id)
    return job if job is not None and job.campaign_id == campaign.id else None
