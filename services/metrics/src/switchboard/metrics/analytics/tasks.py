"""Event handlers that count: every topic in, hourly counters out."""

from __future__ import annotations

from switchboard.common.kafka import Delivery
from switchboard.contracts import ContactUpserted, Event
from switchboard.metrics.analytics.counting import NO_DIMENSION, Increment, increments_for
from switchboard.metrics.analytics.service import known_contacts, rollups


async def count(event: Event, delivery: Delivery) -> None:
    """Add what the event counts, in the transaction that claims it in the inbox."""
    increments = increments_for(event)
    # Most statuses count nothing: skip them without touching the database.
    if not increments:
        return
    async with delivery.transaction() as session:
        await rollups.add(session, increments)


async def count_new_contact(event: ContactUpserted, delivery: Delivery) -> None:
    """A contact counts as new the first time it is upserted, not on later profile changes."""
    async with delivery.transaction() as session:
        if await known_contacts.first_seen(session, event.tenant_id, event.data.contact_id):
            await rollups.add(session, [Increment.of(event, "contacts_new", NO_DIMENSION)])
