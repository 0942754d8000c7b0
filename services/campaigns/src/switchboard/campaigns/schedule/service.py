"""Scheduled sends: listed, read, and cancelled before they go."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.models import ScheduledSend
from switchboard.campaigns.schedule.schemas import SendStatus
from switchboard.common.errors import Conflict, NotFound


class ScheduleService:
    async def list(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        *,
        status: SendStatus | None = None,
        contact_id: UUID | None = None,
        to_address: str | None = None,
        rule_id: UUID | None = None,
        event_id: UUID | None = None,
        campaign_id: UUID | None = None,
        enrollment_id: UUID | None = None,
        limit: int = 50,
        before: UUID | None = None,
    ) -> list[ScheduledSend]:
        """The tenant's sends, newest first, filtered."""
        statement = select(ScheduledSend).where(ScheduledSend.tenant_id == tenant_id)
        filters = {
            ScheduledSend.status: status,
            ScheduledSend.contact_id: contact_id,
            ScheduledSend.to_address: to_address,
            ScheduledSend.rule_id: rule_id,
            ScheduledSend.event_id: event_id,
            ScheduledSend.campaign_id: campaign_id,
            ScheduledSend.enrollment_id: enrollment_id,
        }
        for column, value in filters.items():
            if value is not None:
                statement = statement.where(column == value)
        if before is not None:
            statement = statement.where(ScheduledSend.id < before)
        statement = statement.order_by(ScheduledSend.id.desc()).limit(limit)
        return list((await session.scalars(statement)).all())

    async def get(self, session: AsyncSession, tenant_id: UUID, send_id: UUID) -> ScheduledSend:
        send = await session.get(ScheduledSend, send_id)
        if send is None or send.tenant_id != tenant_id:
            raise NotFound("No such scheduled send.")
        return send

    async def cancel(
        self, session: AsyncSession, tenant_id: UUID, send_id: UUID, reason: str | None
    ) -> ScheduledSend:
        """Cancel a send that has not gone; one being sent right now is waited for (its row is
        locked), and then it has gone: a 409."""
        statement = (
            update(ScheduledSend)
            .where(
                ScheduledSend.id == send_id,
                ScheduledSend.tenant_id == tenant_id,
                ScheduledSend.status.in_(("scheduled", "paused")),
            )
            .values(status="cancelled", reason=reason or "cancelled by an operator")
            .returning(ScheduledSend)
            .execution_options(synchronize_session=False)
        )
        cancelled = (await session.scalars(statement)).one_or_none()
        if cancelled is not None:
            return cancelled
        send = await self.get(session, tenant_id, send_id)
        raise Conflict(
            f"This send is {send.status} already; only a scheduled send can be cancelled."
        )


schedule_service = ScheduleService()
