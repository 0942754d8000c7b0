"""What the assistant reads before deciding, in as few round trips as a busy worker can afford.

Per message, in one statement shared by the messages read at the same moment: the contact, its
open conversation, whether this message was already answered, billing's word on this contact,
the conversation's unsummarised turns and the contact's messages in the last minute.

Per tenant, a short-lived view shared by all its messages: settings, the platform and tenant AI
switches, billing's word on the tenant and the tenant's personas. A change reaches a worker
within `ttl` seconds; a model's reply is kept only after the switches are read again inside the
transaction that records it (`recording.Recorder`), so a kill switch stops replies at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Row, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.common.grouping import Batcher
from switchboard.contracts import MessageReceivedData
from switchboard.conversation.assistant.memory import UNHEARD, Remembered
from switchboard.conversation.models import (
    AssistantSettings,
    Contact,
    Conversation,
    Entitlement,
)
from switchboard.conversation.personas.service import (
    FALLBACK_SLUG,
    ResolvedPersona,
    persona_service,
)
from switchboard.conversation.settings.service import settings_service

ENTITLEMENT_COUNTERS = ("ai_replies", "llm_tokens")
"""`entitlement.changed` counters that, at zero, stop the assistant from calling a model."""


def allows(entitlement: Entitlement | None) -> bool:
    """Whether billing's latest word (None: none yet) lets the assistant call a model."""
    if entitlement is None:
        return True
    if entitlement.state == "suspended":
        return False
    return all(entitlement.remaining.get(k, 1) > 0 for k in ENTITLEMENT_COUNTERS)


@dataclass(frozen=True, slots=True)
class TenantView:
    settings: AssistantSettings
    platform_enabled: bool
    entitled: bool
    personas: dict[str, ResolvedPersona]

    @property
    def enabled(self) -> bool:
        return self.platform_enabled and self.settings.enabled

    def persona(self, *slugs: str | None) -> ResolvedPersona:
        """The first of `slugs` the tenant has (its own, then the library's), else `default`:
        a persona deleted since a contact chose it is skipped."""
        for slug in slugs:
            if slug and slug in self.personas:
                return self.personas[slug]
        return self.personas[FALLBACK_SLUG]


class TenantViews:
    """Each tenant's view, read at most once per `ttl` seconds per worker."""

    def __init__(
        self,
        ttl: float = 2.0,
        max_tenants: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_tenants = max_tenants
        self.clock = clock
        self._views: dict[UUID, tuple[float, TenantView]] = {}

    async def get(self, session: AsyncSession, tenant_id: UUID) -> TenantView:
        now = self.clock()
        cached = self._views.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        view = await self._load(session, tenant_id)
        if len(self._views) >= self.max_tenants:
            self._views = {t: v for t, v in self._views.items() if v[0] > now}
        self._views[tenant_id] = (now + self.ttl, view)
        return view

    async def _load(self, session: AsyncSession, tenant_id: UUID) -> TenantView:
        entitlement = await session.get(Entitlement, (tenant_id, ""))
        personas = await persona_service.available(session, tenant_id)
        return TenantView(
            settings=await settings_service.get(session, tenant_id),
            platform_enabled=await settings_service.platform_enabled(session),
            entitled=allows(entitlement),
            personas={persona.slug: persona for persona in personas},
        )


_UNHEARD = ", ".join(f"'{outcome}'" for outcome in UNHEARD)

# Each lookup is a LATERAL subquery with LIMIT 1, so it stays a probe of a unique index for each
# message even in a generic plan (a plain join to `unnest` may become a hash join that scans the
# whole table on every run once the plan is cached). Only constants are formatted in (our own
# outcome names).
_READ = text(
    f"""
    SELECT w.n, a.answered IS NOT NULL AS answered,
           c.id AS contact_id, c.display_name, c.time_zone, c.attributes, c.blocked, c.persona,
           c.language,
           v.id AS conversation_id, v.handler, v.quota_notified, v.summary,
           v.summary_through_seq,
           e.state AS entitlement_state, e.remaining AS entitlement_remaining,
           memory.seqs, memory.roles, memory.bodies,
           coalesce(recent.messages, 0) AS recent_messages
    FROM unnest(
        CAST(:tenant_ids AS uuid[]), CAST(:from_addresses AS text[]),
        CAST(:to_addresses AS text[]), CAST(:channels AS text[]), CAST(:message_ids AS uuid[]),
        CAST(:rate_limits AS int[])
    ) WITH ORDINALITY
      AS w(tenant_id, from_address, to_address, channel, message_id, rate_limit, n)
    LEFT JOIN LATERAL (
        SELECT true AS answered FROM conversation.turns
        WHERE tenant_id = w.tenant_id AND message_id = w.message_id LIMIT 1
    ) AS a ON true
    LEFT JOIN LATERAL (
        SELECT * FROM conversation.contacts
        WHERE tenant_id = w.tenant_id AND address = w.from_address LIMIT 1
    ) AS c ON true
    LEFT JOIN LATERAL (
        SELECT * FROM conversation.conversations
        WHERE contact_id = c.id AND channel = w.channel AND sender_address = w.to_address
          AND status = 'open'
        LIMIT 1
    ) AS v ON true
    LEFT JOIN LATERAL (
        SELECT state, remaining FROM conversation.entitlements
        WHERE tenant_id = w.tenant_id AND contact_address = w.from_address LIMIT 1
    ) AS e ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(t.seq ORDER BY t.seq) AS seqs, array_agg(t.role ORDER BY t.seq) AS roles,
               array_agg(t.body ORDER BY t.seq) AS bodies
        FROM (
            SELECT seq, role, body FROM conversation.turns
            WHERE conversation_id = v.id AND seq > v.summary_through_seq AND role <> 'system'
              AND (outcome IS NULL OR outcome NOT IN ({_UNHEARD}))
            ORDER BY seq DESC LIMIT :turn_limit
        ) AS t
    ) AS memory ON true
    LEFT JOIN LATERAL (
        SELECT count(*) AS messages
        FROM (
            SELECT created_at FROM conversation.turns
            WHERE conversation_id = v.id AND role = 'user'
            ORDER BY seq DESC LIMIT w.rate_limit
        ) AS newest
        WHERE newest.created_at > now() - interval '1 minute'
    ) AS recent ON true
    """  # noqa: S608
).columns(attributes=JSONB, entitlement_remaining=JSONB)


@dataclass(frozen=True, slots=True)
class Thread:
    """A message's contact, open conversation and memory, as far as they exist yet."""

    answered: bool
    """The message is already in a transcript."""
    contact: Contact | None
    conversation: Conversation | None
    contact_entitled: bool
    """Billing's word on this contact (the tenant's is in `tenant`)."""
    turns: list[Remembered]
    """The newest turns the rolling summary does not cover yet, oldest first, without what the
    model should not read (automatic replies, commands, withheld text)."""
    recent_messages: int
    """The contact's messages in the last minute, counted up to the tenant's limit."""
    tenant: TenantView


class Threads:
    """Each message's thread, read for many messages in one statement: the messages that
    arrive while a read is in flight go together in the next one. Contacts and conversations
    come back as plain (transient) objects, never attached to a session."""

    def __init__(self, db: Database, views: TenantViews, *, turn_limit: int) -> None:
        self.db = db
        self.views = views
        self.turn_limit = turn_limit
        self._reads: Batcher[tuple[UUID, MessageReceivedData], Thread] = Batcher(
            self._read, name="assistant_reads"
        )

    async def read(self, tenant_id: UUID, message: MessageReceivedData) -> Thread:
        return await self._reads.submit((tenant_id, message))

    async def _read(self, wanted: list[tuple[UUID, MessageReceivedData]]) -> list[Thread]:
        async with self.db.reads() as session:
            tenants = {t: await self.views.get(session, t) for t in {t for t, _ in wanted}}
            parameters = {
                "tenant_ids": [t for t, _ in wanted],
                "from_addresses": [m.from_address for _, m in wanted],
                "to_addresses": [m.to_address for _, m in wanted],
                "channels": [m.channel for _, m in wanted],
                "message_ids": [m.message_id for _, m in wanted],
                "rate_limits": [tenants[t].settings.contact_messages_per_minute for t, _ in wanted],
                "turn_limit": self.turn_limit,
            }
            rows = sorted(await session.execute(_READ, parameters), key=lambda row: row.n)
        return [
            _thread(tenant_id, message, row, tenants[tenant_id])
            for (tenant_id, message), row in zip(wanted, rows, strict=True)
        ]


def _thread(
    tenant_id: UUID, message: MessageReceivedData, row: Row[Any], tenant: TenantView
) -> Thread:
    contact = conversation = None
    if row.contact_id is not None:
        contact = Contact(
            id=row.contact_id,
            tenant_id=tenant_id,
            address=message.from_address,
            display_name=row.display_name,
            time_zone=row.time_zone,
            attributes=row.attributes,
            blocked=row.blocked,
            persona=row.persona,
            language=row.language,
        )
    if row.conversation_id is not None:
        conversation = Conversation(
            id=row.conversation_id,
            tenant_id=tenant_id,
            contact_id=row.contact_id,
            channel=message.channel,
            sender_address=message.to_address,
            status="open",
            handler=row.handler,
            quota_notified=row.quota_notified,
            summary=row.summary,
            summary_through_seq=row.summary_through_seq,
        )
    entitlement = None
    if row.entitlement_state is not None:
        entitlement = Entitlement(state=row.entitlement_state, remaining=row.entitlement_remaining)
    turns = [
        Remembered(*turn)
        for turn in zip(row.seqs or (), row.roles or (), row.bodies or (), strict=True)
    ]
    return Thread(
        answered=row.answered,
        contact=contact,
        conversation=conversation,
        contact_entitled=allows(entitlement),
        turns=turns,
        recent_messages=row.recent_messages,
        tenant=tenant,
    )
