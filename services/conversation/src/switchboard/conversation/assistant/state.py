"""What the assistant reads before deciding, in as few round trips as a busy worker can afford.

Per message: one query for the contact, its open conversation, whether this message was already
answered and billing's word on this contact; then, for a known conversation, its unsummarised
turns and its recent message count.

Per tenant, a short-lived view shared by all its messages: settings, the platform and tenant AI
switches, billing's word on the tenant and the tenant's personas. A change reaches a worker
within `ttl` seconds; a model's reply is kept only after the switches are read again inside the
transaction that records it (`recording.Recorder`), so a kill switch stops replies at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import and_, exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts import MessageReceivedData
from switchboard.conversation.models import (
    AssistantSettings,
    Contact,
    Conversation,
    Entitlement,
    PlatformControl,
    Turn,
)
from switchboard.conversation.personas.service import (
    FALLBACK_SLUG,
    ResolvedPersona,
    persona_service,
)
from switchboard.conversation.settings.service import AI_SWITCH, default_settings

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
        settings = await session.get(AssistantSettings, tenant_id) or default_settings(tenant_id)
        platform = await session.get(PlatformControl, AI_SWITCH)
        entitlement = await session.get(Entitlement, (tenant_id, ""))
        personas = await persona_service.available(session, tenant_id)
        return TenantView(
            settings=settings,
            platform_enabled=platform is None or platform.enabled,
            entitled=allows(entitlement),
            personas={persona.slug: persona for persona in personas},
        )


@dataclass(frozen=True, slots=True)
class Thread:
    """A message's contact and open conversation, as far as they exist yet."""

    answered: bool
    contact: Contact | None
    conversation: Conversation | None
    contact_entitled: bool


async def thread_of(session: AsyncSession, tenant_id: UUID, message: MessageReceivedData) -> Thread:
    """The contact, its open conversation with this number, whether this message is already in
    a transcript, and billing's word on the contact: one round trip."""
    answered = exists().where(Turn.tenant_id == tenant_id, Turn.message_id == message.message_id)
    contact_at = and_(Contact.tenant_id == tenant_id, Contact.address == message.from_address)
    open_thread = and_(
        Conversation.contact_id == Contact.id,
        Conversation.channel == message.channel,
        Conversation.sender_address == message.to_address,
        Conversation.status == "open",
    )
    entitlement_of = and_(
        Entitlement.tenant_id == tenant_id, Entitlement.contact_address == message.from_address
    )
    one_row = select(literal(1).label("one")).subquery()
    statement = (
        select(answered.label("answered"), Contact, Conversation, Entitlement)
        .select_from(one_row)
        .outerjoin(Contact, contact_at)
        .outerjoin(Conversation, open_thread)
        .outerjoin(Entitlement, entitlement_of)
    )
    row = (await session.execute(statement)).one()
    return Thread(bool(row[0]), row[1], row[2], allows(row[3]))
