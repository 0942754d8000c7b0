"""The delivery loop: claims due deliveries, posts them signed, logs every attempt, retries.

At least once, as Standard Webhooks intends (receivers dedupe by `webhook-id`): a claim leases
the row (its next attempt moves past the request timeout) and commits before the request, so a
worker that dies mid-request leaves the delivery to be tried again when the lease runs out.
Outcomes are written by group commit: one transaction records every attempt that finished while
the previous one was committing.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from uuid import UUID

import aiohttp
import structlog
from prometheus_client import Counter as PromCounter
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.common.notify import Wakeup
from switchboard.contracts import new_event_id
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.crypto import CredentialCipher
from switchboard.gateway.partners.models import (
    DELIVERIES_CHANNEL,
    WebhookDelivery,
    WebhookEndpoint,
)
from switchboard.gateway.partners.schedule import Clock, RetryPolicy, system_clock
from switchboard.gateway.partners.service import open_secret, partner_webhooks
from switchboard.gateway.partners.signing import signed_headers
from switchboard.gateway.partners.targets import (
    IPAddress,
    Target,
    TargetPolicy,
    TargetRefused,
    pinned,
    resolve,
)

log = structlog.get_logger(__name__)

EXCERPT_BYTES = 1024
ATTEMPTS = PromCounter(
    "switchboard_partner_webhook_attempts", "Partner webhook attempts by outcome.", ["outcome"]
)


@dataclass(frozen=True, slots=True)
class DueDelivery:
    id: UUID
    tenant_id: UUID
    endpoint_id: UUID
    payload: str
    attempts: int
    url: str
    secret: bytes
    previous_secret: bytes | None
    previous_secret_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery: DueDelivery
    attempted_at: datetime
    latency_ms: int
    status_code: int | None = None
    excerpt: str = ""
    error: str | None = None
    retry_after: timedelta | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    def __init__(
        self,
        db: Database,
        cipher: CredentialCipher,
        *,
        policy: TargetPolicy,
        retry: RetryPolicy | None = None,
        clock: Clock = system_clock,
        concurrency: int = 256,
        endpoint_concurrency: int = 16,
        timeout: float = 15.0,
        batch_size: int = 500,
        poll_interval: float = 0.5,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.policy = policy
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.concurrency = concurrency
        self.endpoint_concurrency = endpoint_concurrency
        self.lease = timedelta(seconds=timeout + 30)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None
        self.wakeup = Wakeup(db.url, DELIVERIES_CHANNEL)
        self._busy: Counter[UUID] = Counter()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._attempting = 0  # requests in flight; their recording afterwards holds no slot
        self._outcomes: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(self) -> None:
        await self.wakeup.start()
        try:
            while True:
                free = self.concurrency - self._attempting
                wanted = min(free, self.batch_size)
                claimed = await self.claim(wanted) if wanted > 0 else []
                for due in claimed:
                    self._busy[due.endpoint_id] += 1
                    self._attempting += 1
                    task = asyncio.create_task(self._deliver(due))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                if len(claimed) < wanted or wanted == 0:
                    await self.wakeup.wait(self.poll_interval)
        finally:
            await self.wakeup.stop()
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)
            if self._http is not None:
                await self._http.close()

    async def claim(self, limit: int) -> list[DueDelivery]:
        """Lease the next due deliveries of enabled endpoints, at most a few per endpoint."""
        now = self.clock()
        saturated = [e for e, n in self._busy.items() if n >= self.endpoint_concurrency]
        async with self.db.transaction() as session:
            candidates = await session.execute(
                select(WebhookDelivery.id, WebhookDelivery.endpoint_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    WebhookEndpoint.enabled,
                    WebhookDelivery.endpoint_id.not_in(saturated),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            )
            chosen = self._within_endpoint_limits(candidates.all())
            if not chosen:
                return []
            rows = await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_(chosen),
                    WebhookEndpoint.id == WebhookDelivery.endpoint_id,
                )
                .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=now + self.lease)
                .returning(
                    WebhookDelivery.id,
                    WebhookDelivery.tenant_id,
                    WebhookDelivery.endpoint_id,
                    WebhookDelivery.payload,
                    WebhookDelivery.attempts,
                    WebhookEndpoint.url,
                    WebhookEndpoint.secret,
                    WebhookEndpoint.previous_secret,
                    WebhookEndpoint.previous_secret_expires_at,
                )
            )
            return [DueDelivery(**row._mapping) for row in rows]

    def _within_endpoint_limits(self, candidates: Any) -> list[UUID]:
        taken: Counter[UUID] = Counter()
        chosen = []
        for delivery_id, endpoint_id in candidates:
            if self._busy[endpoint_id] + taken[endpoint_id] < self.endpoint_concurrency:
                taken[endpoint_id] += 1
                chosen.append(delivery_id)
        return chosen

    async def _deliver(self, due: DueDelivery) -> None:
        try:
            outcome = await self.attempt(due)
        except Exception:
            log.exception("partner_webhooks.deliver_failed", delivery_id=str(due.id))
            return
        finally:
            self._release(due.endpoint_id)
        try:
            await self._record(outcome)
        except Exception:
            log.exception("partner_webhooks.record_failed", delivery_id=str(due.id))

    def _release(self, endpoint_id: UUID) -> None:
        """Free a slot; wake the claim loop only once half an endpoint's (or all) slots are free.

        Waking it at every completion would claim one row per transaction and cap throughput at
        the claim rate; waking at half refills in batches.
        """
        self._attempting -= 1
        self._busy[endpoint_id] -= 1
        left = self._busy[endpoint_id]
        if left <= 0:
            del self._busy[endpoint_id]
        if left == self.endpoint_concurrency // 2 or self._attempting == self.concurrency // 2:
            self.wakeup.set()

    async def attempt(self, due: DueDelivery) -> Outcome:
        """One signed POST of the delivery to its endpoint's checked address."""
        attempted_at = self.clock()
        # The signed timestamp is the wall clock: receivers compare it with theirs.
        headers = signed_headers(
            self._secrets(due, attempted_at), str(due.id), datetime.now(UTC), due.payload
        )
        started = time.perf_counter()

        def elapsed() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            target = await resolve(due.url, self.policy)
            status, retry_after, excerpt = await self._post(target, due.payload.encode(), headers)
        except TargetRefused as exc:
            return Outcome(due, attempted_at, elapsed(), error=f"refused: {exc.message}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome(due, attempted_at, elapsed(), error=f"{type(exc).__name__}: {exc}")
        return Outcome(
            due,
            attempted_at,
            elapsed(),
            status_code=status,
            excerpt=excerpt,
            retry_after=_retry_after(status, retry_after, datetime.now(UTC)),
        )

    async def _post(
        self, target: Target, content: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None, str]:
        """Post to the first of the checked addresses that accepts a connection."""
        for address in target.addresses[:-1]:
            try:
                return await self._post_to(target, address, content, headers)
            except aiohttp.ClientConnectorError:
                continue
        return await self._post_to(target, target.addresses[-1], content, headers)

    async def _post_to(
        self, target: Target, address: IPAddress, content: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None, str]:
        """The status, `Retry-After` and the first KiB of the body; the rest is never read.

        aiohttp, not httpx: its connection pool cost a few milliseconds of CPU per request at
        this concurrency. Redirects are failures and never followed; proxies from the
        environment would defeat the address pinning, so they are not used.
        """
        route = pinned(target, address)
        async with self._session().post(
            route.url,
            data=content,
            headers={**headers, "Host": route.host},
            allow_redirects=False,
            server_hostname=route.server_hostname,
        ) as response:
            excerpt = await response.content.read(EXCERPT_BYTES)
            return (
                response.status,
                response.headers.get("retry-after"),
                excerpt.decode("utf-8", errors="replace"),
            )

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0)
            self._http = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, trust_env=False
            )
        return self._http

    def _secrets(self, due: DueDelivery, now: datetime) -> list[str]:
        signing = [open_secret(self.cipher, due.secret)]
        expires = due.previous_secret_expires_at
        if due.previous_secret is not None and expires is not None and expires > now:
            signing.append(open_secret(self.cipher, due.previous_secret))
        return signing

    # Recording outcomes (group commit) ----------------------------------------------------------

    async def _record(self, outcome: Outcome) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((outcome, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        await done

    async def _write_all(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                async with self.db.transaction() as session:
                    await self._write(session, [outcome for outcome, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter gets the error
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)

    async def _write(self, session: AsyncSession, outcomes: list[Outcome]) -> None:
        now = self.clock()
        # One statement each for the whole batch (arrays unnested): ORM bulk writes cost more
        # CPU than the HTTP requests they record.
        await session.execute(_RECORD_ATTEMPTS, _columns([_attempt_row(o) for o in outcomes]))
        steps = [self._next_step(o, now) for o in outcomes]
        await session.execute(_ADVANCE_DELIVERIES, _columns(steps))
        succeeded = {o.delivery.endpoint_id for o in outcomes if o.succeeded}
        failed = {o.delivery.endpoint_id for o in outcomes if not o.succeeded} - succeeded
        gone = {o.delivery.endpoint_id for o in outcomes if o.status_code == 410}
        for outcome in outcomes:
            ATTEMPTS.labels("succeeded" if outcome.succeeded else "failed").inc()
        if succeeded:
            await session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id.in_(succeeded), WebhookEndpoint.failing_since.is_not(None)
                )
                .values(failing_since=None)
            )
        if failed:
            await self._note_failures(session, failed, now)
        for endpoint_id in gone:
            await self._disable(session, endpoint_id, "The endpoint answered 410 Gone.", now)

    def _next_step(self, outcome: Outcome, now: datetime) -> dict[str, Any]:
        due = outcome.delivery
        if outcome.succeeded:
            return {"id": due.id, "status": "succeeded", "next_attempt_at": now}
        if outcome.status_code == 410 or due.attempts >= self.retry.attempts:
            return {"id": due.id, "status": "failed", "next_attempt_at": now}
        delay = self.retry.delay_after(due.attempts, outcome.retry_after)
        return {"id": due.id, "status": "pending", "next_attempt_at": now + delay}

    async def _note_failures(
        self, session: AsyncSession, endpoints: set[UUID], now: datetime
    ) -> None:
        """Failing endpoints remember since when; one failing for too long is disabled."""
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(endpoints), WebhookEndpoint.failing_since.is_(None))
            .values(failing_since=now)
        )
        given_up = await session.scalars(
            select(WebhookEndpoint.id).where(
                WebhookEndpoint.id.in_(endpoints),
                WebhookEndpoint.enabled,
                WebhookEndpoint.failing_since <= now - self.retry.disable_after,
            )
        )
        for endpoint_id in given_up.all():
            reason = f"Every attempt failed for {self.retry.disable_after.days} days."
            await self._disable(session, endpoint_id, reason, now)

    async def _disable(
        self, session: AsyncSession, endpoint_id: UUID, reason: str, now: datetime
    ) -> None:
        """Disable an endpoint and tell the tenant's other endpoints (`endpoint.disabled`)."""
        disabled = (
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled)
                .values(enabled=False, disabled_reason=reason, updated_at=now)
                .returning(WebhookEndpoint.tenant_id, WebhookEndpoint.url)
            )
        ).first()
        if disabled is None:
            return
        log.warning(
            "partner_webhooks.endpoint_disabled", endpoint_id=str(endpoint_id), reason=reason
        )
        data = {"endpoint_id": str(endpoint_id), "url": disabled.url, "reason": reason}
        await partner_webhooks.fan_out(
            session, disabled.tenant_id, new_event_id(), "endpoint.disabled", now, data, now=now
        )


_RECORD_ATTEMPTS = text(
    """INSERT INTO gateway.webhook_attempts (tenant_id, endpoint_id, delivery_id, attempted_at,
         succeeded, status_code, latency_ms, response_excerpt, error)
       SELECT * FROM unnest(CAST(:tenant_id AS uuid[]), CAST(:endpoint_id AS uuid[]),
         CAST(:delivery_id AS uuid[]), CAST(:attempted_at AS timestamptz[]),
         CAST(:succeeded AS boolean[]), CAST(:status_code AS integer[]),
         CAST(:latency_ms AS integer[]), CAST(:response_excerpt AS text[]),
         CAST(:error AS text[]))"""
)
_ADVANCE_DELIVERIES = text(
    """UPDATE gateway.webhook_deliveries AS d SET status = s.status,
         next_attempt_at = s.next_attempt_at
       FROM unnest(CAST(:id AS uuid[]), CAST(:status AS text[]),
         CAST(:next_attempt_at AS timestamptz[])) AS s (id, status, next_attempt_at)
       WHERE d.id = s.id"""
)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows as one array per column, for the unnest statements above."""
    return {key: [row[key] for row in rows] for key in rows[0]}


def _attempt_row(outcome: Outcome) -> dict[str, Any]:
    due = outcome.delivery
    return {
        "tenant_id": due.tenant_id,
        "endpoint_id": due.endpoint_id,
        "delivery_id": due.id,
        "attempted_at": outcome.attempted_at,
        "succeeded": outcome.succeeded,
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "response_excerpt": outcome.excerpt,
        "error": outcome.error,
    }


def _retry_after(status: int, value: str | None, now: datetime) -> timedelta | None:
    """`Retry-After` of a 429 or 503, in seconds or as an HTTP date."""
    if status not in (429, 503) or not value:
        return None
    if value.strip().isdigit():
        return timedelta(seconds=int(value))
    try:
        return max(timedelta(0), parsedate_to_datetime(value) - now)
    except (TypeError, ValueError):
        return None


def sender_for(settings: GatewaySettings, db: Database) -> WebhookSender:
    """The delivery loop as the deployment's settings configure it."""
    return WebhookSender(
        db,
        CredentialCipher(settings.credentials_key.get_secret_value()),
        policy=TargetPolicy(
            allow_private=settings.webhook_allow_private_targets,
            allow_http=settings.webhook_allow_http,
        ),
        concurrency=settings.webhook_concurrency,
        endpoint_concurrency=settings.webhook_endpoint_concurrency,
        timeout=settings.webhook_timeout_seconds,
    )
