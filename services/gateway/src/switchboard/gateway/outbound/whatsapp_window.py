"""WhatsApp's 24-hour window, for every WhatsApp provider (Meta and Twilio alike).

A business may send free-form WhatsApp messages only within 24 hours of the contact's last message
to that number; outside it only a pre-approved template. The gate refuses before the provider is
called, so the refusal is ours, explained, and costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, tuple_

from switchboard.common.db import Database
from switchboard.contracts import utcnow
from switchboard.gateway.models import InboundMessage
from switchboard.gateway.outbound.dispatcher import Claim, Refusal

WINDOW = timedelta(hours=24)


class WhatsAppWindow:
    """A send gate: free-form WhatsApp only while the contact's window on that number is open."""

    def __init__(
        self, db: Database, *, clock: Callable[[], datetime] = utcnow, length: timedelta = WINDOW
    ) -> None:
        self.db = db
        self.clock = clock
        self.length = length

    async def check(self, claims: Sequence[Claim]) -> dict[UUID, Refusal]:
        free_form = [c for c in claims if c.channel == "whatsapp" and c.template is None]
        if not free_form:
            return {}
        last = await self.last_messages(free_form)
        now = self.clock()
        refusal = Refusal(
            code="whatsapp_window_closed",
            reason="The contact has not written to this number in the last 24 hours; "
            "only a template may be sent.",
        )
        return {
            claim.id: refusal
            for claim in free_form
            if (at := last.get(_contact(claim))) is None or now - at >= self.length
        }

    async def last_messages(self, claims: Sequence[Claim]) -> dict[_Contact, datetime]:
        """When each claim's contact last wrote to the claim's sender number (its tenant's)."""
        wanted = {_contact(claim) for claim in claims}
        statement = (
            select(
                InboundMessage.tenant_id,
                InboundMessage.sender_number_id,
                InboundMessage.from_address,
                func.max(InboundMessage.received_at),
            )
            .where(
                InboundMessage.channel == "whatsapp",  # the window's (partial) index
                tuple_(
                    InboundMessage.tenant_id,
                    InboundMessage.sender_number_id,
                    InboundMessage.from_address,
                ).in_(wanted),
            )
            .group_by(
                InboundMessage.tenant_id,
                InboundMessage.sender_number_id,
                InboundMessage.from_address,
            )
        )
        async with self.db.sessions() as session:
            rows = await session.execute(statement)
            return {(tenant, sender, address): at for tenant, sender, address, at in rows}


_Contact = tuple[UUID, UUID, str]


def _contact(claim: Claim) -> _Contact:
    return (claim.tenant_id, claim.sender_number_id, claim.to_address)
