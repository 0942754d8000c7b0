"""The analytics API's edges: who may call it, and clear answers to malformed queries."""

from __future__ import annotations

import httpx
import pytest

from switchboard.metrics.analytics.counting import METRICS

from ..helpers import Tenant


class TestAuthentication:
    @pytest.mark.parametrize(
        "path", ["/v1/analytics/summary", "/v1/analytics/hourly?metric=messages_in"]
    )
    async def test_without_a_key_is_401(self, metrics: httpx.AsyncClient, path: str) -> None:
        response = await metrics.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_an_unknown_key_is_401(self, metrics: httpx.AsyncClient) -> None:
        headers = {"Authorization": "Bearer sb_0123456789abcdef.nope"}
        response = await metrics.get("/v1/analytics/summary", headers=headers)
        assert response.status_code == 401

    async def test_the_platform_key_has_no_analytics_of_its_own(
        self, metrics: httpx.AsyncClient, admin_key: str
    ) -> None:
        headers = {"Authorization": f"Bearer {admin_key}"}
        response = await metrics.get("/v1/analytics/summary", headers=headers)
        assert response.status_code == 404


class TestQueries:
    async def test_a_fresh_tenant_sees_every_metric_at_zero(
        self, metrics: httpx.AsyncClient, customer: Tenant
    ) -> None:
        response = await metrics.get("/v1/analytics/summary", headers=customer.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["metrics"] == {m: {"total": 0, "by_dimension": {}} for m in METRICS}
        assert body["from"].endswith(":00:00Z")

    async def test_from_after_to_is_400(self, metrics: httpx.AsyncClient, customer: Tenant) -> None:
        params = {"from": "2025-03-02", "to": "2025-03-01"}
        response = await metrics.get(
            "/v1/analytics/summary", params=params, headers=customer.headers
        )
        assert response.status_code == 400
        assert "from" in response.json()["error"]["message"]

    async def test_too_long_an_hourly_window_is_400(
        self, metrics: httpx.AsyncClient, customer: Tenant
    ) -> None:
        params = {"metric": "messages_in", "from": "2025-01-01", "to": "2025-03-01"}
        response = await metrics.get(
            "/v1/analytics/hourly", params=params, headers=customer.headers
        )
        assert response.status_code == 400
        assert "31 days" in response.json()["error"]["message"]

    @pytest.mark.parametrize(
        "params",
        [{}, {"metric": "page_views"}, {"metric": "messages_in", "from": "yesterday"}],
    )
    async def test_malformed_parameters_are_422(
        self, metrics: httpx.AsyncClient, customer: Tenant, params: dict[str, str]
    ) -> None:
        response = await metrics.get(
            "/v1/analytics/hourly", params=params, headers=customer.headers
        )
        assert response.status_code == 422


class TestReadiness:
    async def test_ready_once_the_tenants_replica_caught_up(
        self, metrics: httpx.AsyncClient, customer: Tenant
    ) -> None:
        response = await metrics.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["checks"] == {"database": "ok", "tenants": "ok"}
