"""Billing's word on what a tenant (or one contact) may use, as the assistant reads it.

`entitlements` is compacted and keyed by tenant [+ contact]; each event replaces the last, and
an older event arriving late never overwrites a newer one.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts import EntitlementChanged
from switchboard.conversation.models import Entitlement


class EntitlementService:
    async def apply(self, session: AsyncSession, event: EntitlementChanged) -> None:
        data = event.data
        values = {
            "plan": data.plan,
            "state": data.state,
            "remaining": dict(data.remaining),
            "event_time": event.occurred_at,
        }
        statement = insert(Entitlement).values(
            tenant_id=event.tenant_id, contact_address=data.contact_address or "", **values
        )
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", "contact_address"],
            set_=values,
            where=Entitlement.event_time <= statement.excluded.event_time,
        )
        await session.execute(statement)


entitlement_service = EntitlementService()
