"""Sender numbers: registered per tenant, looked up by every webhook (cached briefly)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.db import Database
from switchboard.common.errors import Conflict, NotFound
from switchboard.gateway.addresses import to_e164
from switchboard.gateway.crypto import CredentialCipher
from switchboard.gateway.models import SenderNumber
from switchboard.gateway.numbers.schemas import NumberCreate


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


class NumberService:
    async def register(
        self, session: AsyncSession, cipher: CredentialCipher, tenant_id: UUID, body: NumberCreate
    ) -> SenderNumber:
        number = SenderNumber(
            tenant_id=tenant_id,
            channel=body.channel,
            address=to_e164(body.address),
            provider=body.provider,
            account_sid=body.twilio.account_sid,
            credentials=cipher.seal({"auth_token": body.twilio.auth_token.get_secret_value()}),
        )
        try:
            async with session.begin_nested():
                session.add(number)
                await session.flush()
        except IntegrityError as exc:
            raise Conflict(f"{number.address} is already registered on {body.channel}.") from exc
        await session.refresh(number)
        return number

    async def list(self, session: AsyncSession, tenant_id: UUID) -> list[SenderNumber]:
        statement = (
            select(SenderNumber)
            .where(SenderNumber.tenant_id == tenant_id)
            .order_by(SenderNumber.created_at)
        )
        return list((await session.scalars(statement)).all())


class SenderDirectory:
    """Sender accounts by (channel, address) and by id, cached for a few seconds.

    Every webhook needs the account's auth token to check the signature; the cache keeps that
    lookup (and the decryption) off the hot path.
    """

    def __init__(self, db: Database, cipher: CredentialCipher, *, ttl: float) -> None:
        self.db = db
        self.cipher = cipher
        self.ttl = ttl
        self._cache: dict[object, tuple[float, SenderAccount]] = {}

    async def by_address(self, channel: str, address: str) -> SenderAccount | None:
        key = ("address", channel, address)
        return self._hit(key) or await self._load(
            key, SenderNumber.channel == channel, SenderNumber.address == address
        )

    async def by_id(self, number_id: UUID) -> SenderAccount | None:
        return self._hit(("id", number_id)) or await self._load(
            ("id", number_id), SenderNumber.id == number_id
        )

    async def default_for(self, session: AsyncSession, tenant_id: UUID, channel: str) -> UUID:
        statement = (
            select(SenderNumber.id)
            .where(SenderNumber.tenant_id == tenant_id, SenderNumber.channel == channel)
            .order_by(SenderNumber.created_at)
            .limit(1)
        )
        number_id = await session.scalar(statement)
        if number_id is None:
            raise NotFound(f"The tenant has no {channel} sender number.")
        return number_id

    def _hit(self, key: object) -> SenderAccount | None:
        hit = self._cache.get(key)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    async def _load(self, key: object, *conditions: ColumnElement[bool]) -> SenderAccount | None:
        async with self.db.sessions() as session:
            number = await session.scalar(select(SenderNumber).where(*conditions))
        account = self._account(number) if number is not None else None
        if account is not None:  # unknown numbers are not cached: registering one works at once
            self._cache[key] = (time.monotonic() + self.ttl, account)
        return account

    def _account(self, number: SenderNumber) -> SenderAccount:
        token = self.cipher.open(number.credentials)["auth_token"] if number.credentials else ""
        return SenderAccount(
            id=number.id,
            tenant_id=number.tenant_id,
            channel=number.channel,
            address=number.address,
            provider=number.provider,
            account_sid=number.account_sid,
            auth_token=token,
        )


number_service = NumberService()
