"""Sends whose outcome is unknown: the dispatcher stopped between calling the provider and
recording the answer.

Such a message stays `sending`; it is never claimed again, because the provider may well have
taken it and a second call would text the contact twice. Usually the provider's status callback
settles it: the callback URL carries our message id, so it finds the message even though the
provider's id was never recorded. When no callback has come after `timeout`, the reconciler marks
the message `failed` with the code `outcome_unknown` (published like any other status change), so
operators and partners see it. A callback arriving later still moves it forward to `delivered` or
`read`, which outrank `failed`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select

from switchboard.common.db import Database
from switchboard.gateway.models import OutboundMessage
from switchboard.gateway.outbound.status import status_service

log = structlog.get_logger(__name__)

UNKNOWN_OUTCOME = (
    "The dispatcher stopped while the provider was being called and no status came back; "
    "the message may have been sent, so it is not sent again."
)


class SendingReconciler:
    def __init__(
        self,
        db: Database,
        *,
        timeout: timedelta,
        interval: float = 30.0,
        batch_size: int = 500,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.timeout = timeout
        self.interval = interval
        self.batch_size = batch_size
        self.clock = clock

    async def run(self) -> None:
        while True:
            while await self.sweep() == self.batch_size:
                pass
            await asyncio.sleep(self.interval)

    async def sweep(self) -> int:
        """Settle one batch of messages stuck in `sending`; returns how many."""
        cutoff = self.clock() - self.timeout
        async with self.db.transaction() as session:
            stuck = (
                await session.scalars(
                    select(OutboundMessage)
                    .where(OutboundMessage.status == "sending", OutboundMessage.updated_at < cutoff)
                    .order_by(OutboundMessage.updated_at)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for message in stuck:
                await status_service.transition(
                    session,
                    message,
                    "failed",
                    source="reconciler",
                    error_code="outcome_unknown",
                    error_message=UNKNOWN_OUTCOME,
                )
        if stuck:
            log.warning("reconciler.outcome_unknown", messages=len(stuck))
        return len(stuck)
