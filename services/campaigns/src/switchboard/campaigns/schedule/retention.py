"""How long campaigns keeps what it did: finished sends, ended enrollments and their paths,
and business events, for `SCHEDULE_HORIZON_DAYS` after they finished (a send after its due time:
it was sent, skipped or cancelled by then; an event after it was received).

That is also the longest delay a rule or a campaign step may ask for, so nothing waiting is ever
older than what is kept, and a frequency cap (at most a year) always counts every send in its
period. Scheduled, paused and active rows are never purged, however old; neither are the
agent's decisions still to be made or approved. What contacts texted is kept
`RECEIVED_RETENTION`: the agent reads recent messages, not a year of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.rules.schemas import SCHEDULE_HORIZON_DAYS

RETENTION = timedelta(days=SCHEDULE_HORIZON_DAYS)
RECEIVED_RETENTION = timedelta(days=30)
BATCH = 5000

_PURGES = (
    text(
        """
        DELETE FROM campaigns.scheduled_sends WHERE id IN (
            SELECT id FROM campaigns.scheduled_sends
            WHERE status IN ('sent', 'skipped', 'cancelled') AND due_at < :cutoff
            LIMIT :batch)
        """
    ),
    text(
        """
        DELETE FROM campaigns.enrollment_steps WHERE enrollment_id IN (
            SELECT id FROM campaigns.enrollments
            WHERE status <> 'active' AND ended_at < :cutoff
            LIMIT :batch)
        """
    ),
    text(
        """
        DELETE FROM campaigns.enrollments WHERE id IN (
            SELECT id FROM campaigns.enrollments
            WHERE status <> 'active' AND ended_at < :cutoff
            LIMIT :batch)
        """
    ),
    text(
        """
        DELETE FROM campaigns.events WHERE id IN (
            SELECT id FROM campaigns.events WHERE received_at < :cutoff LIMIT :batch)
        """
    ),
    text(
        """
        DELETE FROM campaigns.agent_decisions WHERE id IN (
            SELECT id FROM campaigns.agent_decisions
            WHERE status IN ('decided', 'approved', 'rejected', 'failed', 'cancelled')
              AND coalesce(decided_at, created_at) < :cutoff
            LIMIT :batch)
        """
    ),
    text(
        """
        DELETE FROM campaigns.received_messages WHERE message_id IN (
            SELECT message_id FROM campaigns.received_messages
            WHERE received_at < :received_cutoff LIMIT :batch)
        """
    ),
)


async def purge(session: AsyncSession, now: datetime) -> int:
    """Delete up to `BATCH` rows of each kind that finished before the retention period; how
    many went (call again while it returns any)."""
    parameters = {
        "cutoff": now - RETENTION,
        "received_cutoff": now - RECEIVED_RETENTION,
        "batch": BATCH,
    }
    purged = 0
    for statement in _PURGES:
        result = await session.execute(statement, parameters)
        purged += result.rowcount  # type: ignore[attr-defined]  # a DML result has a row count
    return purged
