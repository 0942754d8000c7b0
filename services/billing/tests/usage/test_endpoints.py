"""The usage API's edges: who may call it, and clear answers to malformed queries."""

from __future__ import annotations

import httpx
import pytest

from switchboard.devstack.testkit import TenantKey

from ..helpers import Tenant, wait_until_key_accepted


class TestAuthentication:
    @pytest.mark.parametrize(
        "path", ["/v1/usage", "/v1/usage/ledger", "/v1/usage/breakdown", "/v1/usage/ledger.csv"]
    )
    async def test_without_a_key_is_401(self, billing: httpx.AsyncClient, path: str) -> None:
        response = await billing.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_an_unknown_key_is_401(self, billing: httpx.AsyncClient) -> None:
        response = await billing.get(
            "/v1/usage", headers={"Authorization": "Bearer sb_0123456789abcdef.nope"}
        )
        assert response.status_code == 401

    async def test_the_platform_key_has_no_usage_of_its_own(
        self, billing: httpx.AsyncClient, admin_key: str
    ) -> None:
        response = await billing.get("/v1/usage", headers={"Authorization": f"Bearer {admin_key}"})
        assert response.status_code == 404

    async def test_a_key_without_read_scope_is_403(
        self, billing: httpx.AsyncClient, gateway: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a send-only key
        response = await gateway.post(
            f"/v1/tenants/{customer.id}/api-keys",
            json={"name": "sender", "scopes": ["messages:write"]},
            headers=customer.headers,
        )
        assert response.status_code == 201, response.text
        sender = TenantKey(id=customer.id, api_key=response.json()["api_key"])
        await wait_until_key_accepted(billing, sender.headers)
        # When it asks for usage
        response = await billing.get("/v1/usage", headers=sender.headers)
        # Then it is refused
        assert response.status_code == 403


class TestQueries:
    async def test_a_fresh_tenant_has_no_usage_this_month(
        self, billing: httpx.AsyncClient, customer: Tenant
    ) -> None:
        response = await billing.get("/v1/usage", headers=customer.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["totals"] == []
        assert body["from"][8:19] == "01T00:00:00"

    async def test_from_after_to_is_400(self, billing: httpx.AsyncClient, customer: Tenant) -> None:
        params = {"from": "2025-03-01T00:00:00Z", "to": "2025-02-01"}
        response = await billing.get("/v1/usage", params=params, headers=customer.headers)
        assert response.status_code == 400
        assert "from" in response.json()["error"]["message"]

    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("/v1/usage", {"from": "last tuesday"}),
            ("/v1/usage", {"to": "2025-13-01"}),
            ("/v1/usage/ledger", {"limit": "0"}),
            ("/v1/usage/ledger", {"limit": "501"}),
            ("/v1/usage/ledger", {"kind": "carrier_pigeons"}),
            ("/v1/usage/breakdown", {"group_by": ""}),
            ("/v1/usage/breakdown", {"contact_address": "555-0100"}),
            ("/v1/usage/breakdown", {"campaign_id": "spring-sale"}),
            ("/v1/usage/ledger.csv", {"to": "2025-13-01"}),
            ("/v1/usage/ledger.csv", {"campaign_id": "spring-sale"}),
        ],
    )
    async def test_malformed_parameters_are_422(
        self, billing: httpx.AsyncClient, customer: Tenant, path: str, params: dict[str, str]
    ) -> None:
        response = await billing.get(path, params=params, headers=customer.headers)
        assert response.status_code == 422

    async def test_an_unknown_grouping_is_422_naming_the_known_ones(
        self, billing: httpx.AsyncClient, customer: Tenant
    ) -> None:
        params = [("group_by", "day"), ("group_by", "week")]
        response = await billing.get("/v1/usage/breakdown", params=params, headers=customer.headers)
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["query", "group_by", 1]
        assert error["input"] == "week"
        assert "'day', 'channel', 'campaign', 'kind' or 'contact'" in error["msg"]

    async def test_an_export_from_after_to_is_400(
        self, billing: httpx.AsyncClient, customer: Tenant
    ) -> None:
        params = {"from": "2025-03-01", "to": "2025-02-01"}
        response = await billing.get(
            "/v1/usage/ledger.csv", params=params, headers=customer.headers
        )
        assert response.status_code == 400
        assert "from" in response.json()["error"]["message"]

    async def test_a_bare_date_reads_as_utc(
        self, billing: httpx.AsyncClient, customer: Tenant
    ) -> None:
        params = {"from": "2025-01-01", "to": "2025-02-01"}
        response = await billing.get("/v1/usage", params=params, headers=customer.headers)
        assert response.status_code == 200
        assert response.json()["from"] == "2025-01-01T00:00:00Z"


class TestReadiness:
    async def test_ready_once_the_tenants_replica_caught_up(
        self, billing: httpx.AsyncClient, customer: Tenant
    ) -> None:
        response = await billing.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["checks"] == {"database": "ok", "tenants": "ok"}
