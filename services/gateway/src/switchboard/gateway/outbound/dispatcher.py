"""The dispatcher: takes due messages from the database queue and hands them to the transport.

Exactly-once in effect: a message is marked `sending` (and committed) before the provider is
called, and only a `queued` message is ever claimed. A message left in `sending` by a crash is
never sent again automatically: its outcome is unknown, so it waits for the provider's status
callback or an operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast
from uuid import UUID

import structlog
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.common.notify import Wakeup
from switchboard.contracts import Channel, DeliveryStatus, MessageTemplate
from switchboard.gateway import metrics
from switchboard.gateway.compliance.holds import not_held
from switchboard.gateway.compliance.ledger import ConsentRequest, consent_ledger
from switchboard.gateway.models import OutboundMessage
from switchboard.gateway.numbers.service import SenderDirectory
from switchboard.gateway.outbound.errors import PermanentSendError, TransientSendError
from switchboard.gateway.outbound.pacing import Pacer
from switchboard.gateway.outbound.recording import Outcome, SentRecorder
from switchboard.gateway.outbound.status import status_service
from switchboard.gateway.outbound.transports import SendRequest, SendResult, Transport

log = structlog.get_logger(__name__)

OUTBOUND_CHANNEL = "gateway_outbound"


@dataclass(frozen=True, slots=True)
class Claim:
    id: UUID
    tenant_id: UUID
    sender_number_id: UUID
    channel: str
    from_address: str
    to_address: str
    body: str
    attempts: int
    origin: str
    priority: int
    created_at: datetime
    template: dict[str, Any] | None = None
    slot: datetime | None = None  # when its number's rate lets it go (None: at once)
    interval: timedelta | None = None  # its number's spacing between two sends


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a send was refused before reaching the provider (`code` is machine-readable)."""

    code: str
    reason: str


class SendGate(Protocol):
    """A rule every send passes just before the provider is called (consent, windows...).

    Gates see a claimed batch at once (a query per batch, not per message) and return the
    refused messages with their reasons. Gates run in order; the first refusal wins: the message
    becomes `refused` with the reason, its status change is published, and the provider is never
    called.
    """

    async def check(self, claims: Sequence[Claim]) -> dict[UUID, Refusal]: ...


class Dispatcher:
    def __init__(
        self,
        db: Database,
        transport: Transport,
        senders: SenderDirectory,
        *,
        status_callback: str,
        concurrency: int = 64,
        max_attempts: int = 5,
        batch_size: int = 500,
        retry_delay: float = 1.0,
        gates: Sequence[SendGate] = (),
        pacer: Pacer | None = None,
    ) -> None:
        self.db = db
        self.transport = transport
        self.senders = senders
        self.status_callback = status_callback
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.retry_delay = retry_delay
        self.gates = tuple(gates)
        self.pacer = pacer
        self.recorder = SentRecorder(db)
        self.wakeup = Wakeup(db.url, OUTBOUND_CHANNEL)
        # Provider calls in flight are `concurrency`; sends being recorded after their call do
        # not hold a call slot, but all of a dispatcher's sends are bounded (back-pressure on
        # claiming when recording falls behind).
        self._calls = asyncio.Semaphore(concurrency)
        self._slots = asyncio.Semaphore(concurrency * 4)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._paced: dict[UUID, datetime] = {}  # each number's latest send time given here

    async def run(self) -> None:
        await self.wakeup.start()
        try:
            while True:
                claims = await self.claim()
                for claim in await self.screen(claims):
                    await self._slots.acquire()
                    task = asyncio.create_task(self._deliver_and_release(claim))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                if len(claims) < self.batch_size:
                    await self.wakeup.wait(0.5)
        finally:
            await self.wakeup.stop()
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def claim(self) -> list[Claim]:
        """Mark the next due messages `sending` (committed) and return them: replies first.

        With a pacer, each number gives only what fits its rate in the next moments, each
        message with its slot.
        """
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            await self._expire(session, now)
            due = and_(
                OutboundMessage.status == "queued",
                or_(OutboundMessage.not_before.is_(None), OutboundMessage.not_before <= now),
                not_held(),  # the tenant kill switch holds its messages, queued
            )
            if self.pacer is None:
                return await self._take(session, due, self.batch_size, now)
            claims: list[Claim] = []
            for quota in await self.pacer.quotas(session, now, due, self.batch_size):
                mine = and_(due, OutboundMessage.sender_number_id == quota.sender_number_id)
                taken = await self._take(session, mine, quota.count, now)
                await self.pacer.reserve(session, quota, len(taken))
                claims += [
                    replace(c, slot=quota.slot(i), interval=quota.interval)
                    for i, c in enumerate(taken)
                ]
            return claims

    async def _take(
        self, session: AsyncSession, due: ColumnElement[bool], limit: int, now: datetime
    ) -> list[Claim]:
        """Up to `limit` due messages, marked `sending`, in priority then arrival order."""
        candidates = (
            select(OutboundMessage.id)
            .where(due)
            .order_by(OutboundMessage.priority, OutboundMessage.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_(candidates.scalar_subquery()))
            .values(status="sending", attempts=OutboundMessage.attempts + 1, updated_at=now)
            .returning(
                OutboundMessage.id,
                OutboundMessage.tenant_id,
                OutboundMessage.sender_number_id,
                OutboundMessage.channel,
                OutboundMessage.from_address,
                OutboundMessage.to_address,
                OutboundMessage.body,
                OutboundMessage.attempts,
                OutboundMessage.origin,
                OutboundMessage.priority,
                OutboundMessage.created_at,
                OutboundMessage.template,
            )
        )
        claims = [Claim(**row._mapping) for row in rows]
        claims.sort(key=lambda claim: (claim.priority, claim.created_at))  # RETURNING is unordered
        return claims

    async def _expire(self, session: AsyncSession, now: datetime) -> None:
        expired = await session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.status == "queued", OutboundMessage.expires_at < now)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        for message in expired:
            await status_service.transition(
                session,
                message,
                "failed",
                source="dispatcher",
                error_code="expired",
                error_message="Expired before it could be sent.",
            )

    async def _deliver_and_release(self, claim: Claim) -> None:
        try:
            await self.deliver(claim)
        except Exception:
            log.exception("dispatcher.deliver_failed", message_id=str(claim.id))
        finally:
            self._slots.release()

    async def screen(self, claims: list[Claim]) -> list[Claim]:
        """Run the gates over a claimed batch: refusals are recorded, the rest returned.

        If a gate cannot answer (the database is away), the batch goes back to `queued`: none
        of it reached a provider, so none of it may be left `sending`.
        """
        if not claims or not self.gates:
            return claims
        refused: dict[UUID, Refusal] = {}
        try:
            for gate in self.gates:
                remaining = [claim for claim in claims if claim.id not in refused]
                if remaining:
                    refused |= await gate.check(remaining)
        except Exception:
            await self._release(claims)
            raise
        for claim in claims:
            if (refusal := refused.get(claim.id)) is not None:
                await self._fail(claim, refusal.code, refusal.reason, status="refused")
        return [claim for claim in claims if claim.id not in refused]

    async def _wait_for_slot(self, claim: Claim) -> None:
        """Sleep until the number's rate lets `claim` go; a stop meanwhile puts it back.

        A dispatcher running late (its loop busy) would otherwise find several slots past and
        send them at once, a burst above the number's rate: each send goes at its slot, but
        never sooner than one interval after this dispatcher's previous send for the number.
        """
        assert claim.slot is not None
        now = datetime.now(UTC)
        slot = claim.slot
        previous = self._paced.get(claim.sender_number_id)
        if previous is not None and claim.interval is not None:
            slot = max(slot, previous + claim.interval)
        self._paced[claim.sender_number_id] = max(slot, now)
        delay = (slot - now).total_seconds()
        if delay <= 0:
            return
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            await asyncio.shield(self._release([claim]))
            raise

    async def _release(self, claims: list[Claim]) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id.in_([claim.id for claim in claims]),
                    OutboundMessage.status == "sending",
                )
                .values(status="queued", attempts=OutboundMessage.attempts - 1)
            )

    async def deliver(self, claim: Claim) -> None:
        if claim.slot is not None:
            await self._wait_for_slot(claim)
        sender = await self.senders.by_id(claim.sender_number_id)
        if sender is None:
            await self._fail(claim, "no_sender", "The sender number no longer exists.")
            return
        request = SendRequest(
            message_id=claim.id,
            tenant_id=claim.tenant_id,
            channel=claim.channel,
            from_address=claim.from_address,
            to_address=claim.to_address,
            body=claim.body,
            account_sid=sender.account_sid,
            auth_token=sender.auth_token,
            # Our id in the callback URL: Twilio may call back before we have stored its SID.
            status_callback=f"{self.status_callback}?message_id={claim.id}",
            provider=sender.provider,
            template=MessageTemplate.model_validate(claim.template) if claim.template else None,
        )
        try:
            async with self._calls:
                result = await self.transport.send(request)
        except PermanentSendError as exc:
            await self._fail(claim, exc.code or "rejected", str(exc), carrier_opt_out=exc.opted_out)
        except TransientSendError as exc:
            await self._retry_later(claim, str(exc))
        else:
            await self._record_sent(claim, result)

    async def _record_sent(self, claim: Claim, result: SendResult) -> None:
        provider = result.provider or self.transport.name
        steps: tuple[DeliveryStatus, ...] = (
            ("sent", "delivered") if result.status == "delivered" else ("sent",)
        )
        await self.recorder.record(
            Outcome(
                message_id=claim.id,
                provider=provider,
                provider_message_id=result.provider_message_id,
                segments=result.segments,
                price=result.price,
                currency=result.currency,
                steps=steps,
            )
        )
        metrics.OUTBOUND.labels(claim.channel, provider, "sent").inc()

    async def _fail(
        self,
        claim: Claim,
        code: str,
        reason: str,
        *,
        status: DeliveryStatus = "failed",
        carrier_opt_out: bool = False,
    ) -> None:
        async with self.db.transaction() as session:
            if carrier_opt_out:  # the ledger learns it, so nothing else is even tried
                change = ConsentRequest(
                    status="opted_out",
                    source="carrier",
                    channel=cast(Channel, claim.channel),
                    sender_address=claim.from_address,
                )
                await consent_ledger.change(session, claim.tenant_id, claim.to_address, change)
            message = await session.get(OutboundMessage, claim.id, with_for_update=True)
            assert message is not None
            await status_service.transition(
                session,
                message,
                status,
                source="dispatcher",
                error_code=code,
                error_message=reason,
            )
        metrics.OUTBOUND.labels(claim.channel, self.transport.name, status).inc()

    async def _retry_later(self, claim: Claim, reason: str) -> None:
        if claim.attempts >= self.max_attempts:
            await self._fail(claim, "retries_exhausted", reason)
            return
        delay = timedelta(seconds=min(300.0, self.retry_delay * 2**claim.attempts))
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == claim.id)
                .values(status="queued", not_before=datetime.now(UTC) + delay, error_message=reason)
            )
        log.warning("dispatcher.retry_scheduled", message_id=str(claim.id), attempt=claim.attempts)
