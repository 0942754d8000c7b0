"""The consent ledger: an address's consent per tenant, its history, published on `consent`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.common.outbox import Outbox
from switchboard.contracts import (
    Channel,
    ConsentData,
    ConsentOptedIn,
    ConsentOptedOut,
    ConsentSource,
    contact_key,
)
from switchboard.gateway.compliance.models import Consent, ConsentChange
from switchboard.gateway.models import outbox

ConsentStatus = Literal["opted_out", "opted_in"]


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """One change to the ledger, with where it came from."""

    status: ConsentStatus
    source: ConsentSource
    channel: Channel
    sender_address: str | None = None
    keyword: str | None = None
    words: str | None = None
    inbound_message_id: UUID | None = None


class ConsentLedger:
    def __init__(self) -> None:
        self.outbox = Outbox(outbox)

    async def change(
        self, session: AsyncSession, tenant_id: UUID, address: str, request: ConsentRequest
    ) -> ConsentChange:
        """Set an address's consent, keep the change in its history and publish it."""
        now = datetime.now(UTC)
        values = {"tenant_id": tenant_id, "address": address, "status": request.status}
        await session.execute(
            insert(Consent)
            .values(**values, updated_at=now)
            .on_conflict_do_update(
                index_elements=[Consent.tenant_id, Consent.address],
                set_={"status": request.status, "updated_at": now},
            )
        )
        change = ConsentChange(
            **values,
            source=request.source,
            channel=request.channel,
            sender_address=request.sender_address,
            keyword=request.keyword,
            words=request.words,
            inbound_message_id=request.inbound_message_id,
            recorded_at=now,
        )
        session.add(change)
        data = ConsentData(
            address=address, channel=request.channel, source=request.source, keyword=request.keyword
        )
        kind = ConsentOptedOut if request.status == "opted_out" else ConsentOptedIn
        await self.outbox.add(
            session, kind.create(tenant_id, data), key=contact_key(tenant_id, address)
        )
        await session.flush()
        return change

    async def status(self, session: AsyncSession, tenant_id: UUID, address: str) -> str | None:
        """`opted_out`, `opted_in`, or None when the address never said either."""
        return await session.scalar(
            select(Consent.status).where(Consent.tenant_id == tenant_id, Consent.address == address)
        )

    async def history(
        self, session: AsyncSession, tenant_id: UUID, address: str
    ) -> list[ConsentChange]:
        statement = (
            select(ConsentChange)
            .where(ConsentChange.tenant_id == tenant_id, ConsentChange.address == address)
            .order_by(ConsentChange.id)
        )
        return list((await session.scalars(statement)).all())


consent_ledger = ConsentLedger()
