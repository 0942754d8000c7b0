"""Small factories and waits for metrics tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID, uuid4

import httpx

from switchboard.contracts import (
    Channel,
    ConsentData,
    ConsentOptedOut,
    ContactData,
    ContactUpserted,
    DeliveryStatus,
    MessageReceived,
    MessageReceivedData,
    MessageStatusChanged,
    MessageStatusChangedData,
    Origin,
    UsageKind,
    UsageRecorded,
    UsageRecordedData,
    utcnow,
)
from switchboard.devstack.testkit import wait_for_key

CONTACT = "+15550002222"
SENDER = "+15550009999"


class Tenant(Protocol):
    """What the root `tenant` fixture gives: an id and the headers of its API key."""

    @property
    def id(self) -> UUID: ...

    @property
    def headers(self) -> dict[str, str]: ...


async def settles(
    fetch: Callable[[], Awaitable[Any]], expected: Any, *, within: float = 15.0
) -> None:
    """Wait until `fetch()` returns `expected`; at the deadline, fail showing the difference."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await fetch() == expected:
            return
        await asyncio.sleep(0.05)
    assert await fetch() == expected


async def wait_until_key_accepted(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Keys reach metrics through the `tenants` topic: wait for this one to arrive."""
    await wait_for_key(client, "/v1/analytics/summary", headers)


def _envelope(occurred_at: datetime | None) -> dict[str, Any]:
    return {"occurred_at": occurred_at} if occurred_at is not None else {}


def received(
    tenant_id: UUID, *, channel: Channel = "sms", occurred_at: datetime | None = None
) -> MessageReceived:
    data = MessageReceivedData(
        message_id=uuid4(),
        channel=channel,
        provider="twilio",
        provider_message_id=f"SM{uuid4().hex}",
        from_address=CONTACT,
        to_address=SENDER,
        body="hello",
        received_at=occurred_at or utcnow(),
    )
    return MessageReceived.create(tenant_id, data, **_envelope(occurred_at))


def status(
    tenant_id: UUID, state: DeliveryStatus, *, origin: Origin = "reply", channel: Channel = "sms"
) -> MessageStatusChanged:
    message_id = uuid4()
    data = MessageStatusChangedData(
        message_id=message_id,
        idempotency_key=f"{origin}:{message_id}",
        origin=origin,
        channel=channel,
        to_address=CONTACT,
        status=state,
        segments=1,
    )
    return MessageStatusChanged.create(tenant_id, data)


def opted_out(tenant_id: UUID) -> ConsentOptedOut:
    data = ConsentData(address=CONTACT, channel="sms", source="keyword", keyword="STOP")
    return ConsentOptedOut.create(tenant_id, data)


def usage(
    tenant_id: UUID, kind: UsageKind, quantity: int, cost: str, model: str | None = None
) -> UsageRecorded:
    data = UsageRecordedData(
        kind=kind, quantity=quantity, cost=Decimal(cost), source_id=str(uuid4()), model=model
    )
    return UsageRecorded.create(tenant_id, data)


def contact(
    tenant_id: UUID,
    contact_id: UUID,
    *,
    name: str = "Ada",
    occurred_at: datetime | None = None,
) -> ContactUpserted:
    data = ContactData(contact_id=contact_id, address=CONTACT, display_name=name)
    return ContactUpserted.create(tenant_id, data, **_envelope(occurred_at))


async def summary_of(
    metrics: httpx.AsyncClient, tenant: Tenant, **params: str
) -> dict[str, dict[str, Any]]:
    """The tenant's analytics summary, metric by metric."""
    response = await metrics.get("/v1/analytics/summary", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    totals: dict[str, dict[str, Any]] = response.json()["metrics"]
    return totals


async def hourly_of(
    metrics: httpx.AsyncClient, tenant: Tenant, metric: str, **params: str
) -> list[tuple[str, str | None, int]]:
    """One metric's hourly points as (hour, dimension, value)."""
    response = await metrics.get(
        "/v1/analytics/hourly", params={"metric": metric, **params}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return [(p["hour"], p["dimension"], p["value"]) for p in response.json()["points"]]
