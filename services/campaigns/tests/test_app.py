"""The campaigns HTTP app: probes and authentication."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol
from uuid import UUID

import httpx
import pytest


class Tenant(Protocol):
    """A tenant from the fixtures: its id and the headers carrying its API key."""

    id: UUID

    @property
    def headers(self) -> dict[str, str]: ...


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    """Wait until `check` passes; fail the test if the deadline passes first."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.05)


class TestReadiness:
    async def test_ready_once_the_database_answers_and_the_tenants_replica_caught_up(
        self, campaigns: httpx.AsyncClient
    ) -> None:
        # Given the app started against a real database and broker
        async def ready() -> bool:
            return (await campaigns.get("/readyz")).status_code == 200

        # When the tenants replica has read the topic to its end
        await eventually(ready)

        # Then both checks are reported healthy
        body = (await campaigns.get("/readyz")).json()
        assert body == {"status": "ok", "checks": {"database": "ok", "tenants": "ok"}}

    async def test_alive(self, campaigns: httpx.AsyncClient) -> None:
        assert (await campaigns.get("/healthz")).json() == {"status": "ok"}


class TestAuthentication:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/v1/events"),
            ("POST", "/v1/events"),
            ("GET", "/v1/events/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            ("GET", "/v1/contacts"),
            ("POST", "/v1/rules"),
            ("PATCH", "/v1/rules/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            ("GET", "/v1/sending-policy"),
            ("PUT", "/v1/sending-policy"),
        ],
    )
    async def test_a_request_without_a_key_is_unauthorized(
        self, campaigns: httpx.AsyncClient, method: str, path: str
    ) -> None:
        response = await campaigns.request(method, path, json={})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in response.json()["error"]["message"]

    async def test_an_unknown_key_is_unauthorized(self, campaigns: httpx.AsyncClient) -> None:
        headers = {"Authorization": "Bearer sb_0123456789abcdef.not-a-real-secret"}
        response = await campaigns.get("/v1/events", headers=headers)
        assert response.status_code == 401

    async def test_a_read_only_key_cannot_ingest_events(
        self, campaigns: httpx.AsyncClient, gateway: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a second key of the tenant that may only read
        issued = await gateway.post(
            f"/v1/tenants/{customer.id}/api-keys",
            json={"name": "reader", "scopes": ["messages:read"]},
            headers=customer.headers,
        )
        assert issued.status_code == 201, issued.text
        reader = {"Authorization": f"Bearer {issued.json()['api_key']}"}

        async def reader_accepted() -> bool:
            return (await campaigns.get("/v1/events", headers=reader)).status_code == 200

        await eventually(reader_accepted)
        # When it posts an event
        response = await campaigns.post(
            "/v1/events",
            json={"type": "order.shipped", "external_contact_id": "c-1"},
            headers=reader,
        )
        # Then it is refused for its scope, and nothing is stored
        assert response.status_code == 403
        assert "messages:write" in response.json()["error"]["message"]
        assert (await campaigns.get("/v1/events", headers=reader)).json() == []
