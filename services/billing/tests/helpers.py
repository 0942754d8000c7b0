"""Small factories and waits for billing tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID, uuid4

import httpx

from switchboard.contracts import (
    DeliveryStatus,
    MessageStatusChanged,
    MessageStatusChangedData,
    UsageRecorded,
    UsageRecordedData,
)


class Tenant(Protocol):
    """What the root `tenant` fixture gives: an id and the headers of its API key."""

    @property
    def id(self) -> UUID: ...

    @property
    def headers(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class TenantKey:
    id: UUID
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    """Wait until `check` passes; fail the test when the deadline passes first."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.05)


async def wait_until_key_accepted(billing: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Keys reach billing through the `tenants` topic: wait for this one to arrive."""

    async def accepted() -> bool:
        return (await billing.get("/v1/usage", headers=headers)).status_code != 401

    await eventually(accepted)


def llm_usage(
    tenant_id: UUID,
    *,
    tokens: int = 1200,
    cost: str = "0.0024",
    source_id: str | None = None,
    occurred_at: datetime | None = None,
) -> UsageRecorded:
    data = UsageRecordedData(
        kind="llm_tokens",
        quantity=tokens,
        cost=Decimal(cost),
        source_id=source_id or f"llm-call-{uuid4()}",
        provider="offline",
        model="echo-1",
        input_tokens=tokens // 2,
        output_tokens=tokens - tokens // 2,
    )
    envelope: dict[str, Any] = {"occurred_at": occurred_at} if occurred_at else {}
    return UsageRecorded.create(tenant_id, data, **envelope)


def sms_status(
    tenant_id: UUID,
    message_id: UUID,
    status: DeliveryStatus,
    *,
    segments: int | None = 2,
    price: str | None = None,
    channel: str = "sms",
    to: str = "+15550001111",
) -> MessageStatusChanged:
    data = MessageStatusChangedData.model_validate(
        {
            "message_id": message_id,
            "idempotency_key": f"operator:{message_id}",
            "origin": "operator",
            "channel": channel,
            "to_address": to,
            "status": status,
            "provider": "twilio",
            "provider_message_id": f"SM{message_id.hex}",
            "segments": segments,
            "price": Decimal(price) if price is not None else None,
            "currency": "USD" if price is not None else None,
        }
    )
    return MessageStatusChanged.create(tenant_id, data)


async def usage_of(
    billing: httpx.AsyncClient, tenant: Tenant, **params: str
) -> dict[str, dict[str, Any]]:
    """The tenant's usage totals, by kind."""
    response = await billing.get("/v1/usage", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return {total["kind"]: total for total in response.json()["totals"]}


async def ledger_of(billing: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    response = await billing.get("/v1/usage/ledger", headers=tenant.headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows
