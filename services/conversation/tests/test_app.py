"""The HTTP app's edges: readiness, and keys checked against the tenants replica."""

from __future__ import annotations


class TestReadiness:
    async def test_ready_once_the_database_answers_and_the_tenants_replica_caught_up(
        self, conversation_api, poll
    ) -> None:
        async def ready() -> dict[str, object] | None:
            response = await conversation_api.get("/readyz")
            return response.json() if response.status_code == 200 else None

        body = await poll(ready)
        assert body["checks"] == {"database": "ok", "tenants": "ok"}


class TestApiKeys:
    async def test_a_revoked_key_stops_working_within_seconds(
        self, gateway, tenant, conversation_api, accepted, poll
    ) -> None:
        # Given a key this service accepts
        await accepted(tenant.headers)
        key_id = tenant.api_key.removeprefix("sb_").split(".")[0]
        # When the tenant revokes it at the gateway
        revoked = await gateway.delete(f"/v1/api-keys/{key_id}", headers=tenant.headers)
        assert revoked.status_code == 200, revoked.text

        # Then this service refuses it within seconds
        async def refused() -> bool:
            response = await conversation_api.get("/v1/contacts", headers=tenant.headers)
            return response.status_code == 401

        assert await poll(refused, 10.0)

    async def test_the_platform_admin_key_has_no_tenant_data_here(
        self, admin_key, conversation_api
    ) -> None:
        response = await conversation_api.get(
            "/v1/contacts", headers={"Authorization": f"Bearer {admin_key}"}
        )
        assert response.status_code == 404
