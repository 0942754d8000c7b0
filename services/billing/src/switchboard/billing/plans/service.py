"""Plans: read by everyone, written by the platform admin."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.billing.models import Plan
from switchboard.billing.plans.schemas import PlanWrite
from switchboard.common.errors import BadRequest, NotFound


class PlanService:
    async def list(self, session: AsyncSession, *, active_only: bool) -> Sequence[Plan]:
        statement = select(Plan).order_by(Plan.price, Plan.id)
        if active_only:
            statement = statement.where(Plan.active)
        return (await session.scalars(statement)).all()

    async def get(self, session: AsyncSession, plan_id: str) -> Plan:
        plan = await session.get(Plan, plan_id)
        if plan is None:
            raise NotFound("No such plan.")
        return plan

    async def put(self, session: AsyncSession, plan_id: str, body: PlanWrite) -> Plan:
        """Create the plan or replace it; subscribers see the new limits at once (the next
        entitlement published for them carries them)."""
        values = body.model_dump()
        upsert = insert(Plan).values(id=plan_id, **values)
        statement = upsert.on_conflict_do_update(
            index_elements=[Plan.id], set_={**values, "updated_at": func.now()}
        ).returning(Plan)
        options = {"populate_existing": True}
        plan: Plan = (await session.scalars(statement, execution_options=options)).one()
        return plan

    async def offered(self, session: AsyncSession, plan_id: str) -> Plan:
        """A plan a new subscription may take: it exists and is active (a 400 otherwise)."""
        plan = await session.get(Plan, plan_id)
        if plan is None or not plan.active:
            names = ", ".join(p.id for p in await self.list(session, active_only=True))
            raise BadRequest(f"No plan {plan_id!r} is offered; the plans are: {names}.")
        return plan


plan_service = PlanService()
