"""A tenant's compliance rules: kill switch, help text, countries, budget, its own keywords."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import phonenumbers
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.errors import BadRequest, Conflict, NotFound
from switchboard.contracts import Keyword
from switchboard.gateway.compliance.keywords import (
    DEFAULT_KEYWORDS,
    MAX_KEYWORD_WORDS,
    book_of,
    normalise,
)
from switchboard.gateway.compliance.models import DailySends, KeywordSet, TenantCompliance
from switchboard.gateway.compliance.schemas import (
    ComplianceSettingsRead,
    ComplianceSettingsUpdate,
    KeywordSetRead,
    KeywordSetWrite,
)
from switchboard.gateway.outbound.dispatcher import OUTBOUND_CHANNEL

DEFAULT_REPLIES: dict[Keyword, str] = {
    "opt_out": "You are unsubscribed and will receive no more messages. "
    "Reply START to subscribe again.",
    "opt_in": "You are subscribed again. Reply STOP to unsubscribe, HELP for help.",
    "help": "Reply STOP to unsubscribe or START to subscribe again. "
    "Message and data rates may apply.",
}
KEYWORDS: tuple[Keyword, ...] = ("opt_out", "opt_in", "help")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")


class ComplianceService:
    async def rules(self, session: AsyncSession, tenant_id: UUID) -> TenantCompliance:
        """The tenant's rules (defaults when it never set any; not added to the session)."""
        found = await session.get(TenantCompliance, tenant_id, populate_existing=True)
        return found or TenantCompliance(tenant_id=tenant_id, outbound_paused=False)

    async def read(self, session: AsyncSession, tenant_id: UUID) -> ComplianceSettingsRead:
        rules = await self.rules(session, tenant_id)
        sent = await session.scalar(
            select(DailySends.sent).where(
                DailySends.tenant_id == tenant_id, DailySends.day == datetime.now(UTC).date()
            )
        )
        return ComplianceSettingsRead(
            outbound_paused=rules.outbound_paused,
            paused_at=rules.paused_at,
            help_text=rules.help_text or DEFAULT_REPLIES["help"],
            allowed_countries=rules.allowed_countries,
            daily_budget=rules.daily_budget,
            sent_today=sent or 0,
        )

    async def update(
        self, session: AsyncSession, tenant_id: UUID, body: ComplianceSettingsUpdate
    ) -> ComplianceSettingsRead:
        """Change only the fields the caller sent."""
        changes: dict[str, Any] = body.model_dump(include=body.model_fields_set)
        if changes.get("allowed_countries") is not None:
            changes["allowed_countries"] = _regions(changes["allowed_countries"])
        await self._upsert(session, tenant_id, changes)
        return await self.read(session, tenant_id)

    async def pause(self, session: AsyncSession, tenant_id: UUID) -> ComplianceSettingsRead:
        """Hold every queued and future outbound message of the tenant (kept, not sent)."""
        await self._upsert(
            session, tenant_id, {"outbound_paused": True, "paused_at": datetime.now(UTC)}
        )
        return await self.read(session, tenant_id)

    async def resume(self, session: AsyncSession, tenant_id: UUID) -> ComplianceSettingsRead:
        """Release the held messages; the dispatcher is woken at commit."""
        await self._upsert(session, tenant_id, {"outbound_paused": False, "paused_at": None})
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": OUTBOUND_CHANNEL})
        return await self.read(session, tenant_id)

    async def keyword_sets(self, session: AsyncSession, tenant_id: UUID) -> list[KeywordSet]:
        statement = (
            select(KeywordSet)
            .where(KeywordSet.tenant_id == tenant_id)
            .order_by(KeywordSet.language)
        )
        return list((await session.scalars(statement)).all())

    async def set_keywords(
        self, session: AsyncSession, tenant_id: UUID, language: str, body: KeywordSetWrite
    ) -> KeywordSetRead:
        """Replace the tenant's keywords in one language (the defaults always stay)."""
        if not _LANGUAGE.fullmatch(language):
            raise BadRequest(f"{language!r} is not a language tag such as 'es' or 'pt-BR'.")
        words: dict[str, list[str]] = {k: _keywords(getattr(body, k), k) for k in KEYWORDS}
        others = [s for s in await self.keyword_sets(session, tenant_id) if s.language != language]
        _check_unique(words, book_of(_sets_of(others)))
        values: dict[str, Any] = {**body.model_dump(), **words, "updated_at": datetime.now(UTC)}
        await session.execute(
            insert(KeywordSet)
            .values(tenant_id=tenant_id, language=language, **values)
            .on_conflict_do_update(
                index_elements=[KeywordSet.tenant_id, KeywordSet.language], set_=values
            )
        )
        return KeywordSetRead.model_validate({**body.model_dump(), **words, "language": language})

    async def delete_keywords(self, session: AsyncSession, tenant_id: UUID, language: str) -> None:
        deleted = await session.execute(
            delete(KeywordSet)
            .where(KeywordSet.tenant_id == tenant_id, KeywordSet.language == language)
            .returning(KeywordSet.language)
        )
        if deleted.first() is None:
            raise NotFound(f"No keywords in {language!r}.")

    async def book(self, session: AsyncSession, tenant_id: UUID) -> dict[str, tuple[Keyword, str]]:
        """Every keyword the tenant answers: the defaults and its own, by normalised word."""
        return book_of(_sets_of(await self.keyword_sets(session, tenant_id)))

    async def reply_text(
        self, session: AsyncSession, tenant_id: UUID, keyword: Keyword, language: str
    ) -> str:
        """The confirmation of a keyword: the language's own, else the tenant's, else ours."""
        own = await session.get(KeywordSet, (tenant_id, language))
        text_ = cast(str | None, getattr(own, f"{keyword}_reply", None))
        if text_:
            return text_
        if keyword == "help":
            rules = await session.get(TenantCompliance, tenant_id)
            if rules is not None and rules.help_text:
                return rules.help_text
        return DEFAULT_REPLIES[keyword]

    async def _upsert(
        self, session: AsyncSession, tenant_id: UUID, changes: dict[str, Any]
    ) -> None:
        values = {**changes, "updated_at": datetime.now(UTC)}
        await session.execute(
            insert(TenantCompliance)
            .values({"tenant_id": tenant_id, "outbound_paused": False, **values})
            .on_conflict_do_update(index_elements=[TenantCompliance.tenant_id], set_=values)
        )


def _regions(raw: list[str]) -> list[str]:
    regions = sorted({r.strip().upper() for r in raw})
    unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise BadRequest(f"Unknown ISO 3166 regions: {', '.join(unknown)}.")
    return regions


def _keywords(raw: list[str], keyword: Keyword) -> list[str]:
    words = []
    for word in raw:
        normal = normalise(word)
        if not normal or len(normal.split()) > MAX_KEYWORD_WORDS:
            raise BadRequest(f"{word!r} is not a keyword of 1 to {MAX_KEYWORD_WORDS} words.")
        if DEFAULT_KEYWORDS.get(normal, keyword) != keyword:
            standard = DEFAULT_KEYWORDS[normal]
            raise BadRequest(f"{word!r} is a standard keyword; it always means {standard}.")
        words.append(normal)
    return sorted(set(words))


def _check_unique(words: dict[str, list[str]], others: dict[str, tuple[Keyword, str]]) -> None:
    seen: dict[str, str] = {}
    for keyword, listed in words.items():
        for word in listed:
            meaning = seen.get(word) or others.get(word, (keyword, ""))[0]
            if meaning != keyword:
                raise Conflict(f"{word!r} already means {meaning}.")
            seen[word] = keyword


def _sets_of(sets: list[KeywordSet]) -> list[tuple[str, Keyword, list[str]]]:
    return [(s.language, k, getattr(s, k)) for s in sets for k in KEYWORDS]


def keyword_set_read(row: KeywordSet) -> KeywordSetRead:
    return KeywordSetRead.model_validate(row, from_attributes=True)


compliance_service = ComplianceService()
