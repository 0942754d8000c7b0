"""WhatsApp's 24-hour window, for every WhatsApp provider (Meta and Twilio alike).

A business may send free-form WhatsApp messages only within 24 hours of the contact's last message
to that number; outside it only a pre-approved template. The gate refuses before the provider is
called, so the refusal is ours, explained, and costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select

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

    async def check(self, claim: Claim) -> Refusal | None:
        if claim.channel != "whatsapp" or claim.template is not None:
            return None
        last = await self.last_message(claim)
        if last is not None and self.clock() - last < self.length:
            return None
        return Refusal(
            code="whatsapp_window_closed",
            reason="The contact has not written to this number in the last 24 hours; "
            "only a template may be sent.",
        )

    async def last_message(self, claim: Claim) -> datetime | None:
        """When the contact last wrote to the claim's sender number (this tenant's only)."""
        statement = select(func.max(InboundMessage.received_at)).where(
            InboundMessage.tenant_id == claim.tenant_id,
            InboundMessage.sender_number_id == claim.sender_number_id,
            InboundMessage.from_address == claim.to_address,
        )
        async with self.db.sessions() as session:
            return await session.scalar(statement)
