"""What contacts do to their journeys: enter on an event, answer, and opt out.

- A business event whose type a campaign is triggered by (and whose condition holds, and which
  carries the campaign's declared attributes) enrolls its contact, once per event.
- A reply is noted on the step each of the contact's active enrollments is at (`replied`); one
  that contains a campaign's exit phrase takes the contact out; an enrollment waiting for a reply
  goes on at once (to `on_reply`, else the next step).
- An opt-out (STOP, from the gateway's `consent` topic) takes the contact out of every campaign
  and cancels every proactive send still waiting for them; until they opt in again (START) no
  campaign enrolls them and no send goes to them (the scheduler and the runner check).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns import metrics
from switchboard.campaigns.journeys.enrollment import Candidate, Path, end, enroll, wake_journeys
from switchboard.campaigns.journeys.steps import (
    WaitForReplyStep,
    exit_reply_matches,
    jump,
    parse_steps,
)
from switchboard.campaigns.journeys.triggers import EventTrigger, parse_trigger
from switchboard.campaigns.models import Campaign, CampaignVersion
from switchboard.campaigns.rules.conditions import evaluate

_ACTIVE_FOR_CONTACT = text(
    """
    SELECT e.id, e.campaign_id, e.version, e.step, e.waiting, c.exit_replies
    FROM campaigns.enrollments AS e
    JOIN campaigns.campaigns AS c ON c.id = e.campaign_id
    WHERE e.tenant_id = :tenant_id AND e.address = :address AND e.status = 'active'
    ORDER BY e.id
    FOR UPDATE OF e
    """
)

_GO_ON = text(
    """
    UPDATE campaigns.enrollments SET step = :step, waiting = NULL, next_run_at = :now
    WHERE id = :id
    """
)

_CANCEL_WAITING_SENDS = text(
    """
    UPDATE campaigns.scheduled_sends
    SET status = 'cancelled', reason = :reason, updated_at = now()
    WHERE tenant_id = :tenant_id AND to_address = :address AND status IN ('scheduled', 'paused')
    """
)


async def enroll_on_event(
    session: AsyncSession,
    tenant_id: UUID,
    event_id: UUID,
    facts: dict[str, Any],
    address: str,
    contact_id: UUID | None,
    now: datetime,
) -> int:
    """Enroll the event's contact in the active campaigns it triggers; how many."""
    event = facts["event"]
    statement = select(Campaign).where(
        Campaign.tenant_id == tenant_id,
        Campaign.status == "active",
        Campaign.trigger["type"].astext == "event",
        Campaign.trigger["event_type"].astext == event["type"],
    )
    entered = 0
    for campaign in (await session.scalars(statement)).all():
        trigger = parse_trigger(campaign.trigger)
        assert isinstance(trigger, EventTrigger)
        if any(event.get(name) is None for name in campaign.event_attributes):
            continue
        if not evaluate(trigger.condition, facts):
            continue
        candidate = Candidate(address, contact_id, dict(event), event_id)
        entered += len(await enroll(session, campaign, [candidate], now))
    return entered


async def on_reply(
    session: AsyncSession, tenant_id: UUID, address: str, body: str, now: datetime
) -> None:
    """A contact's message, for each campaign they are in (see the module's docstring)."""
    parameters = {"tenant_id": tenant_id, "address": address}
    rows = (await session.execute(_ACTIVE_FOR_CONTACT, parameters)).all()
    if not rows:
        return
    path = Path()
    exits: dict[str, list[UUID]] = {}
    woken = False
    for row in rows:
        phrase = exit_reply_matches(row.exit_replies, body)
        path.add(tenant_id, row.campaign_id, row.id, row.step, "replied", now)
        if phrase is not None:
            exits.setdefault(f'replied "{phrase}"', []).append(row.id)
            continue
        if row.waiting != "reply":
            continue
        version = await session.get(CampaignVersion, (row.campaign_id, row.version))
        assert version is not None
        steps = parse_steps(version.steps)
        waiting = steps[row.step]
        assert isinstance(waiting, WaitForReplyStep)
        following = jump(steps, waiting.on_reply, row.step + 1)
        await session.execute(_GO_ON, {"id": row.id, "step": following, "now": now})
        woken = True
    await path.write(session)
    for reason, ids in exits.items():
        await end(session, ids, status="exited", reason=reason, now=now)
    if woken:
        await wake_journeys(session)
    metrics.JOURNEY_STEPS.labels("replied").inc(len(rows))


_CONSENT = text(
    """
    INSERT INTO campaigns.opt_outs (tenant_id, address, opted_out, changed_at)
    VALUES (:tenant_id, :address, :opted_out, :changed_at)
    ON CONFLICT (tenant_id, address) DO UPDATE
    SET opted_out = excluded.opted_out, changed_at = excluded.changed_at
    WHERE opt_outs.changed_at <= excluded.changed_at
    """
)
"""The contact's latest word (a late older event never replaces a newer one)."""


async def on_opt_in(
    session: AsyncSession, tenant_id: UUID, address: str, changed_at: datetime
) -> None:
    """The contact may get proactive messages again (from what is planned from now on)."""
    parameters = {"tenant_id": tenant_id, "address": address, "changed_at": changed_at}
    await session.execute(_CONSENT, parameters | {"opted_out": False})


async def on_opt_out(
    session: AsyncSession, tenant_id: UUID, address: str, changed_at: datetime, now: datetime
) -> int:
    """The contact leaves every campaign, no proactive send waits for them, and none is planned
    or sent until they opt in again; how many enrollments ended."""
    parameters = {"tenant_id": tenant_id, "address": address, "changed_at": changed_at}
    await session.execute(_CONSENT, parameters | {"opted_out": True})
    rows = (
        await session.execute(_ACTIVE_FOR_CONTACT, {"tenant_id": tenant_id, "address": address})
    ).all()
    ended = await end(
        session, [row.id for row in rows], status="exited", reason="opted out", now=now
    )
    parameters = {"tenant_id": tenant_id, "address": address, "reason": "opted out"}
    await session.execute(_CANCEL_WAITING_SENDS, parameters)
    metrics.JOURNEY_STEPS.labels("opted_out").inc(ended)
    return ended
