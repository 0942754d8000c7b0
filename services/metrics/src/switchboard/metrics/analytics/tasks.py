"""What the metrics consumer does with a batch: every topic in, hourly counters out."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts import AnyEvent, ContactUpserted
from switchboard.metrics.analytics.counting import NO_DIMENSION, Increment, increments_for
from switchboard.metrics.analytics.service import known_contacts, rollups


async def count_batch(events: list[AnyEvent], session: AsyncSession) -> None:
    """Add what a batch of new events counts, in the transaction that claims them."""
    increments: list[Increment] = []
    for event in events:
        if isinstance(event, ContactUpserted):
            # New the first time it is upserted, not on later profile changes.
            if await known_contacts.first_seen(session, event.tenant_id, event.data.contact_id):
                increments.append(Increment.of(event, "contacts_new", NO_DIMENSION))
        else:
            increments += increments_for(event)
    await rollups.add(session, increments)
