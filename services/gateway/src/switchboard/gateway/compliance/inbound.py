"""Keywords on arrival: STOP works at once, always, with exactly one confirmation.

Every inbound channel calls `ComplianceInbox.take(receipt)` in place of its ordinary recording:
it answers None for an ordinary message (the caller records it as usual, fast), or records a
keyword message itself and says whether it was new. A keyword message is recorded in ONE
transaction: the receipt (unique per provider message id, so a repeated webhook repeats
nothing), its `message.received` event marked with the keyword, the consent change and its
`consent.*` event, and the confirmation queued at reply priority (origin `system`, idempotent per
inbound message, remembered in `keyword_replies` so that consent, budget and kill switch let it
through).
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    Keyword,
    MessageReceived,
    MessageReceivedData,
    MessageRequestedData,
    contact_key,
)
from switchboard.gateway.compliance.keywords import DEFAULT_BOOK, MAX_CHARS, KeywordMatch, match
from switchboard.gateway.compliance.ledger import ConsentRequest, ConsentStatus, consent_ledger
from switchboard.gateway.compliance.models import KeywordReply
from switchboard.gateway.compliance.service import compliance_service
from switchboard.gateway.inbound.recorder import Receipt
from switchboard.gateway.models import InboundMessage, outbox
from switchboard.gateway.outbound.service import outbound_service

log = structlog.get_logger(__name__)

Book = dict[str, tuple[Keyword, str]]


class ComplianceInbox:
    """Keyword handling for every inbound channel; tenants' keyword books cached for `ttl`."""

    def __init__(self, db: Database, *, ttl: float) -> None:
        self.db = db
        self.ttl = ttl
        self.outbox = Outbox(outbox)
        self._books: dict[UUID, tuple[float, Book]] = {}
        self._loading: dict[UUID, asyncio.Task[Book]] = {}

    async def take(self, receipt: Receipt) -> bool | None:
        """None for an ordinary message; else record the keyword message: False if known."""
        found = await self.match(receipt.tenant_id, receipt.message.body)
        if found is None:
            return None
        return await self.record(receipt, found)

    async def match(self, tenant_id: UUID, body: str) -> KeywordMatch | None:
        """The keyword a message is for this tenant, if any (cheap for ordinary messages)."""
        if len(body) > MAX_CHARS:
            return None
        return match(body, await self._book(tenant_id))

    async def record(self, receipt: Receipt, found: KeywordMatch) -> bool:
        async with self.db.transaction() as session:
            return await self._record(session, receipt, found)

    def forget(self, tenant_id: UUID) -> None:
        """Drop a tenant's cached keywords (after it changed them)."""
        self._books.pop(tenant_id, None)

    async def _record(self, session: AsyncSession, receipt: Receipt, found: KeywordMatch) -> bool:
        tenant_id, message = receipt.tenant_id, receipt.message
        if not await self._receipt(session, receipt):
            return False
        keyword: Keyword | None = found.keyword
        if keyword == "opt_in" and await self._subscribed(session, tenant_id, message.from_address):
            keyword = None  # "yes" from someone who never opted out is just an answer
        marked = message.model_copy(update={"keyword": keyword})
        event = MessageReceived.create(tenant_id, marked)
        await self.outbox.add(session, event, key=contact_key(tenant_id, message.from_address))
        if keyword is None:
            return True
        if keyword != "help":
            status: ConsentStatus = "opted_out" if keyword == "opt_out" else "opted_in"
            change = ConsentRequest(
                status=status,
                source="keyword",
                channel=message.channel,
                sender_address=message.to_address,
                keyword=found.word,
                words=message.body,
                inbound_message_id=message.message_id,
            )
            await consent_ledger.change(session, tenant_id, message.from_address, change)
        await self._confirm(session, tenant_id, message, keyword, found.language)
        return True

    async def _receipt(self, session: AsyncSession, receipt: Receipt) -> bool:
        message = receipt.message
        taken = await session.scalar(
            insert(InboundMessage)
            .values(
                id=message.message_id,
                tenant_id=receipt.tenant_id,
                sender_number_id=receipt.sender_number_id,
                channel=message.channel,
                provider=message.provider,
                provider_message_id=message.provider_message_id,
                from_address=message.from_address,
                to_address=message.to_address,
                body=message.body,
                media=[m.model_dump() for m in message.media],
                received_at=message.received_at,
            )
            .on_conflict_do_nothing(index_elements=["provider", "provider_message_id"])
            .returning(InboundMessage.id)
        )
        return taken is not None

    async def _subscribed(self, session: AsyncSession, tenant_id: UUID, address: str) -> bool:
        return await consent_ledger.status(session, tenant_id, address) != "opted_out"

    async def _confirm(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        message: MessageReceivedData,
        keyword: Keyword,
        language: str,
    ) -> None:
        body = await compliance_service.reply_text(session, tenant_id, keyword, language)
        request = MessageRequestedData(
            idempotency_key=f"keyword:{message.provider}:{message.provider_message_id}",
            origin="system",
            priority="reply",
            channel=message.channel,
            to_address=message.from_address,
            from_address=message.to_address,
            body=body,
            in_reply_to=message.message_id,
        )
        reply_id = await outbound_service.enqueue(session, tenant_id, request)
        await session.execute(
            insert(KeywordReply)
            .values(
                message_id=reply_id,
                tenant_id=tenant_id,
                inbound_message_id=message.message_id,
                keyword=keyword,
            )
            .on_conflict_do_nothing()
        )

    async def _book(self, tenant_id: UUID) -> Book:
        cached = self._books.get(tenant_id)
        if cached is not None:
            expires, book = cached
            if expires <= time.monotonic() and tenant_id not in self._loading:
                self._load(tenant_id)  # refresh in the background; serve what we have
            return book
        return await self._load(tenant_id)

    def _load(self, tenant_id: UUID) -> asyncio.Task[Book]:
        task = self._loading.get(tenant_id)
        if task is None:
            task = asyncio.create_task(self._fetch(tenant_id))
            self._loading[tenant_id] = task
            task.add_done_callback(lambda done: self._loaded(tenant_id, done))
        return task

    def _loaded(self, tenant_id: UUID, task: asyncio.Task[Book]) -> None:
        self._loading.pop(tenant_id, None)
        if not task.cancelled() and task.exception() is not None:
            # A failed background refresh keeps serving the cached book; waiters see the error.
            log.warning("keywords.refresh_failed", error=repr(task.exception()))

    async def _fetch(self, tenant_id: UUID) -> Book:
        async with self.db.sessions() as session:
            book = await compliance_service.book(session, tenant_id)
        # Tenants without their own keywords share one book.
        book = DEFAULT_BOOK if len(book) == len(DEFAULT_BOOK) else book
        self._books[tenant_id] = (time.monotonic() + self.ttl, book)
        return book
