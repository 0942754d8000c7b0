"""Small factories and waits for billing tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID, uuid4

import httpx

from switchboard.contracts import (
    Channel,
    DeliveryStatus,
    MessageStatusChanged,
    MessageStatusChangedData,
    UsageRecorded,
    UsageRecordedData,
)
from switchboard.devstack.testkit import wait_for_key


class Tenant(Protocol):
    """What the root `tenant` fixture gives: an id and the headers of its API key."""

    @property
    def id(self) -> UUID: ...

    @property
    def headers(self) -> dict[str, str]: ...


async def wait_until_key_accepted(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Keys reach billing through the `tenants` topic: wait for this one to arrive."""
    await wait_for_key(client, "/v1/usage", headers)


def llm_usage(
    tenant_id: UUID,
    *,
    tokens: int = 1200,
    cost: str = "0.0024",
    source_id: str | None = None,
    occurred_at: datetime | None = None,
    contact_address: str | None = None,
    channel: Channel | None = None,
    campaign_id: UUID | None = None,
) -> UsageRecorded:
    data = UsageRecordedData(
        contact_address=contact_address,
        channel=channel,
        campaign_id=campaign_id,
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
    campaign_id: UUID | None = None,
    occurred_at: datetime | None = None,
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
            "campaign_id": campaign_id,
        }
    )
    envelope: dict[str, Any] = {"occurred_at": occurred_at} if occurred_at else {}
    return MessageStatusChanged.create(tenant_id, data, **envelope)


async def usage_of(
    billing: httpx.AsyncClient, tenant: Tenant, **params: str
) -> dict[str, dict[str, Any]]:
    """The tenant's usage totals, by kind."""
    response = await billing.get("/v1/usage", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return {total["kind"]: total for total in response.json()["totals"]}


async def ledger_of(
    billing: httpx.AsyncClient, tenant: Tenant, **params: str
) -> list[dict[str, Any]]:
    response = await billing.get("/v1/usage/ledger", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def breakdown_of(
    billing: httpx.AsyncClient, tenant: Tenant, *group_by: str, **params: str
) -> list[dict[str, Any]]:
    """The rows of the tenant's usage breakdown by `group_by`, in the API's order."""
    query = [("group_by", g) for g in group_by] + list(params.items())
    response = await billing.get("/v1/usage/breakdown", params=query, headers=tenant.headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


async def ledger_csv(billing: httpx.AsyncClient, tenant: Tenant, **params: str) -> httpx.Response:
    response = await billing.get("/v1/usage/ledger.csv", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response
