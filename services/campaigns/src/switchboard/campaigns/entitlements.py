"""Billing's word on what a tenant (or one of its contacts) may use, as campaigns reads it.

`entitlements` is compacted and keyed by tenant [+ contact]; each event replaces the last for
its (tenant, contact), and an older event arriving late never overwrites a newer one (the same
replica as the conversation service's). Campaigns reads one counter, `messages`: at zero or
below, the plan's messages are used up and nothing more is sent; a suspended account sends
nothing either. A missing counter is unlimited, and an account in grace still sends.

A recipient is stopped by their tenant's entitlement (`contact_address` empty) or by their own,
whichever stops them; nothing is stopped while billing has said nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.models import Entitlement
from switchboard.contracts import EntitlementChanged

MESSAGES = "messages"
"""The `remaining` counter of the plan's messages."""
SUSPENDED = "quota: the account is suspended"
USED_UP = "quota: the plan's messages are used up"

_ENTITLEMENTS = text(
    """
    SELECT tenant_id, contact_address, state, remaining FROM campaigns.entitlements
    WHERE tenant_id = ANY(CAST(:tenant_ids AS uuid[]))
      AND contact_address = ANY(CAST(:addresses AS text[]))
    """
)


async def apply(session: AsyncSession, event: EntitlementChanged) -> None:
    """Keep `event` as the latest word for its tenant (or contact), unless a newer one is kept."""
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


def stop_reason(state: str, remaining: Mapping[str, int]) -> str | None:
    """Why an entitlement in `state`, with these counters left, stops sends; None if it does
    not."""
    if state == "suspended":
        return SUSPENDED
    left = remaining.get(MESSAGES)
    if left is not None and left <= 0:
        return USED_UP
    return None


async def stopped_by_quota(
    session: AsyncSession, recipients: Iterable[tuple[UUID, str]]
) -> dict[tuple[UUID, str], str]:
    """Which of these (tenant, address) recipients may not be sent to now, and why (a suspended
    account before used-up messages), in one lookup."""
    wanted = set(recipients)
    if not wanted:
        return {}
    parameters = {
        "tenant_ids": sorted({tenant_id for tenant_id, _ in wanted}),
        "addresses": sorted({address for _, address in wanted} | {""}),
    }
    reasons: dict[tuple[UUID, str], str] = {}
    for row in await session.execute(_ENTITLEMENTS, parameters):
        reason = stop_reason(row.state, row.remaining)
        if reason is not None:
            reasons[row.tenant_id, row.contact_address] = reason
    found: dict[tuple[UUID, str], str] = {}
    for tenant_id, address in wanted:
        said = {reasons.get((tenant_id, "")), reasons.get((tenant_id, address))}
        for reason in (SUSPENDED, USED_UP):
            if reason in said:
                found[tenant_id, address] = reason
                break
    return found
