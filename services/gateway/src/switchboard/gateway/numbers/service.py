"""Sender numbers: registered per tenant, looked up by every webhook (cached briefly)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.common.errors import Conflict, NotFound
from switchboard.gateway.addresses import to_e164
from switchboard.gateway.crypto import CredentialCipher
from switchboard.gateway.models import SenderNumber
from switchboard.gateway.numbers.schemas import NumberCreate, NumberUpdate

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SenderAccount:
    """A sender number with its decrypted provider credentials, for signing and sending."""

    id: UUID
    tenant_id: UUID
    channel: str
    address: str
    provider: str
    account_sid: str | None
    auth_token: str
    app_secret: str | None = None
    """Meta's app secret, which signs its webhooks (Twilio signs with the auth token)."""


class NumberService:
    async def register(
        self, session: AsyncSession, cipher: CredentialCipher, tenant_id: UUID, body: NumberCreate
    ) -> SenderNumber:
        account_sid, secrets = _account(body)
        number = SenderNumber(
            tenant_id=tenant_id,
            channel=body.channel,
            address=to_e164(body.address),
            provider=body.provider,
            account_sid=account_sid,
            credentials=cipher.seal(secrets),
            number_type=body.number_type
            or ("whatsapp" if body.channel == "whatsapp" else "long_code"),
            messages_per_second=_rate(body.messages_per_second),
        )
        try:
            async with session.begin_nested():
                session.add(number)
                await session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"{number.address} (or its provider account) is already registered "
                f"on {body.channel}."
            ) from exc
        await session.refresh(number)
        return number

    async def update(
        self, session: AsyncSession, tenant_id: UUID, number_id: UUID, body: NumberUpdate
    ) -> SenderNumber:
        number = await session.get(SenderNumber, number_id, with_for_update=True)
        if number is None or number.tenant_id != tenant_id:
            raise NotFound("No such number.")
        if body.number_type is not None:
            number.number_type = body.number_type
        if "messages_per_second" in body.model_fields_set:
            number.messages_per_second = _rate(body.messages_per_second)
        await session.flush()
        await session.refresh(number)
        return number

    async def list(self, session: AsyncSession, tenant_id: UUID) -> list[SenderNumber]:
        statement = (
            select(SenderNumber)
            .where(SenderNumber.tenant_id == tenant_id)
            .order_by(SenderNumber.created_at)
        )
        return list((await session.scalars(statement)).all())


def _account(body: NumberCreate) -> tuple[str, dict[str, str]]:
    """The provider account id and the secrets to seal, for the number's provider."""
    if body.meta is not None:
        meta = body.meta
        return meta.phone_number_id, {
            "access_token": meta.access_token.get_secret_value(),
            "app_secret": meta.app_secret.get_secret_value(),
            "waba_id": meta.waba_id,
        }
    assert body.twilio is not None  # the schema requires the chosen provider's account
    return body.twilio.account_sid, {"auth_token": body.twilio.auth_token.get_secret_value()}


class SenderDirectory:
    """Sender accounts by (channel, address) and by id, cached and refreshed in the background.

    Every webhook needs the account's auth token to check the signature. A cached account older
    than `ttl` is still served while one load refreshes it, so a burst of webhooks never turns
    into a burst of queries; only a number seen for the first time waits (once) for its load.
    """

    def __init__(self, db: Database, cipher: CredentialCipher, *, ttl: float) -> None:
        self.db = db
        self.cipher = cipher
        self.ttl = ttl
        self._cache: dict[tuple[Any, ...], tuple[float, SenderAccount]] = {}
        self._loading: dict[tuple[Any, ...], asyncio.Task[SenderAccount | None]] = {}

    async def by_address(self, channel: str, address: str) -> SenderAccount | None:
        return await self._get(("address", channel, address))

    async def by_id(self, number_id: UUID) -> SenderAccount | None:
        return await self._get(("id", number_id))

    async def by_provider_account(self, provider: str, account_id: str) -> SenderAccount | None:
        """The number behind a provider's own id for it (Meta's phone_number_id)."""
        return await self._get(("account", provider, account_id))

    async def _get(self, key: tuple[Any, ...]) -> SenderAccount | None:
        cached = self._cache.get(key)
        if cached is None:
            return await self._load(key)
        expires, account = cached
        if expires <= time.monotonic() and key not in self._loading:
            self._load(key)  # refresh in the background; serve what we have meanwhile
        return account

    def _load(self, key: tuple[Any, ...]) -> asyncio.Task[SenderAccount | None]:
        task = self._loading.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key))
            self._loading[key] = task
            task.add_done_callback(lambda done: self._loaded(key, done))
        return task

    async def _fetch(self, key: tuple[Any, ...]) -> SenderAccount | None:
        kind, *values = key
        if kind == "id":
            condition = SenderNumber.id == values[0]
        elif kind == "account":
            condition = and_(
                SenderNumber.provider == values[0], SenderNumber.account_sid == values[1]
            )
        else:
            condition = and_(SenderNumber.channel == values[0], SenderNumber.address == values[1])
        async with self.db.sessions() as session:
            number = await session.scalar(select(SenderNumber).where(condition))
        if number is None:  # unknown numbers are not cached: registering one works at once
            self._cache.pop(key, None)
            return None
        account = self._account(number)
        self._cache[key] = (time.monotonic() + self.ttl, account)
        return account

    def _loaded(self, key: tuple[Any, ...], task: asyncio.Task[SenderAccount | None]) -> None:
        self._loading.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            # A failed background refresh keeps serving the cached account; waiters see the error.
            log.warning("senders.refresh_failed", error=repr(task.exception()))

    def _account(self, number: SenderNumber) -> SenderAccount:
        secrets = self.cipher.open(number.credentials) if number.credentials else {}
        return SenderAccount(
            id=number.id,
            tenant_id=number.tenant_id,
            channel=number.channel,
            address=number.address,
            provider=number.provider,
            account_sid=number.account_sid,
            # Twilio's auth token, or Meta's access token: what the transport authenticates with.
            auth_token=secrets.get("auth_token") or secrets.get("access_token", ""),
            app_secret=secrets.get("app_secret"),
        )


number_service = NumberService()


def _rate(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))
