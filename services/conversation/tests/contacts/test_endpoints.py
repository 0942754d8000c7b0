"""Contacts API: the people who wrote to a tenant, found by address, private to the tenant."""

from __future__ import annotations

from urllib.parse import quote
from uuid import uuid4


class TestListContacts:
    async def test_a_contact_is_found_by_address(self, tenant, converse, conversation_api) -> None:
        # Given two contacts who wrote in
        first = await converse(tenant, "hello")
        await converse(tenant, "hi too")
        contact = await conversation_api.get(
            f"/v1/contacts/{first['contact_id']}", headers=tenant.headers
        )
        address = contact.json()["address"]
        # When the operator filters by one address (the `+` encoded, or sent raw as a space)
        encoded = await conversation_api.get(
            f"/v1/contacts?address={quote(address)}", headers=tenant.headers
        )
        raw = await conversation_api.get(f"/v1/contacts?address={address}", headers=tenant.headers)
        everyone = await conversation_api.get("/v1/contacts", headers=tenant.headers)
        # Then only that contact is listed; without a filter, both, newest first
        assert [c["id"] for c in encoded.json()] == [first["contact_id"]]
        assert [c["id"] for c in raw.json()] == [first["contact_id"]]
        assert len(everyone.json()) == 2
        assert everyone.json()[1]["id"] == first["contact_id"]

    async def test_a_new_contact_has_an_empty_profile(
        self, tenant, converse, conversation_api
    ) -> None:
        conversation = await converse(tenant, "hello")
        contact = await conversation_api.get(
            f"/v1/contacts/{conversation['contact_id']}", headers=tenant.headers
        )
        body = contact.json()
        assert body["address"].startswith("+1555")
        profile = ("display_name", "time_zone", "language", "persona", "attributes", "blocked")
        assert {field: body[field] for field in profile} == {
            "display_name": None,
            "time_zone": None,
            "language": None,
            "persona": None,
            "attributes": {},
            "blocked": False,
        }

    async def test_without_a_key_the_caller_is_unauthorized(self, conversation_api) -> None:
        response = await conversation_api.get("/v1/contacts")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


class TestGetContact:
    async def test_another_tenants_contact_is_not_found(
        self, gateway, admin_key, tenant, converse, conversation_api, accepted
    ) -> None:
        # Given tenant A's contact, and tenant B
        conversation = await converse(tenant, "hello")
        other = await gateway.post(
            "/v1/tenants", json={"name": "B"}, headers={"Authorization": f"Bearer {admin_key}"}
        )
        b_headers = {"Authorization": f"Bearer {other.json()['api_key']['api_key']}"}
        await accepted(b_headers)
        # When B asks for it by id
        response = await conversation_api.get(
            f"/v1/contacts/{conversation['contact_id']}", headers=b_headers
        )
        # Then it does not exist for B
        assert response.status_code == 404

    async def test_an_unknown_contact_is_not_found(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        response = await conversation_api.get(f"/v1/contacts/{uuid4()}", headers=tenant.headers)
        assert response.status_code == 404
