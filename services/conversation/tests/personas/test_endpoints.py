"""Personas API: the library's templates and the tenant's own, overrides, deletion, validation."""

from __future__ import annotations

import pytest

from switchboard.conversation.personas.library import LIBRARY

CONCIERGE = {
    "name": "Concierge",
    "description": "Warm and formal.",
    "instructions": "Greet the customer by name and offer help with bookings.",
}


async def put(api, tenant, slug: str, body: dict[str, str] | None = None):
    return await api.put(f"/v1/personas/{slug}", json=body or CONCIERGE, headers=tenant.headers)


class TestListing:
    async def test_a_new_tenant_sees_the_library(self, tenant, conversation_api, accepted) -> None:
        await accepted(tenant.headers)
        response = await conversation_api.get("/v1/personas", headers=tenant.headers)
        assert response.status_code == 200, response.text
        listed = response.json()
        assert [p["slug"] for p in listed] == sorted(LIBRARY)
        assert {p["source"] for p in listed} == {"library"}
        default = next(p for p in listed if p["slug"] == "default")
        assert default["instructions"] == LIBRARY["default"].instructions
        assert default["name"] == LIBRARY["default"].name

    async def test_the_tenants_own_persona_is_listed_with_the_library(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        created = await put(conversation_api, tenant, "concierge")
        assert created.status_code == 200, created.text
        assert created.json() | {"updated_at": None} == {
            "slug": "concierge",
            **CONCIERGE,
            "source": "tenant",
            "overrides_library": False,
            "updated_at": None,
        }
        listed = (await conversation_api.get("/v1/personas", headers=tenant.headers)).json()
        assert [p["slug"] for p in listed] == sorted({*LIBRARY, "concierge"})
        one = await conversation_api.get("/v1/personas/concierge", headers=tenant.headers)
        assert one.json()["instructions"] == CONCIERGE["instructions"]

    async def test_another_tenants_persona_does_not_exist(
        self, tenant, new_tenant, conversation_api, accepted
    ) -> None:
        other = await new_tenant()
        await accepted(tenant.headers)
        await accepted(other.headers)
        await put(conversation_api, tenant, "secret-sauce")
        assert (
            await conversation_api.get("/v1/personas/secret-sauce", headers=other.headers)
        ).status_code == 404
        listed = (await conversation_api.get("/v1/personas", headers=other.headers)).json()
        assert "secret-sauce" not in {p["slug"] for p in listed}
        deleted = await conversation_api.delete("/v1/personas/secret-sauce", headers=other.headers)
        assert deleted.status_code == 404
        still = await conversation_api.get("/v1/personas/secret-sauce", headers=tenant.headers)
        assert still.status_code == 200

    async def test_an_unknown_persona_is_not_found(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        response = await conversation_api.get("/v1/personas/nobody", headers=tenant.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


class TestReplacing:
    async def test_a_put_replaces_the_tenants_persona(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        first = await put(conversation_api, tenant, "concierge")
        second = await put(
            conversation_api,
            tenant,
            "concierge",
            {"name": "Concierge v2", "instructions": "Be terse."},
        )
        assert second.status_code == 200, second.text
        body = second.json()
        assert (body["name"], body["instructions"], body["description"]) == (
            "Concierge v2",
            "Be terse.",
            "",
        )
        assert body["updated_at"] >= first.json()["updated_at"]
        listed = (await conversation_api.get("/v1/personas", headers=tenant.headers)).json()
        assert [p["name"] for p in listed if p["slug"] == "concierge"] == ["Concierge v2"]

    async def test_an_override_replaces_the_template_until_it_is_deleted(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        # Given the tenant's own version of the library's `default`
        override = await put(
            conversation_api, tenant, "default", {"name": "Ours", "instructions": "Speak like us."}
        )
        assert override.json()["source"] == "tenant"
        assert override.json()["overrides_library"] is True
        listed = (await conversation_api.get("/v1/personas", headers=tenant.headers)).json()
        defaults = [p for p in listed if p["slug"] == "default"]
        assert [(p["source"], p["instructions"]) for p in defaults] == [
            ("tenant", "Speak like us.")
        ]
        # When it is deleted, then the library's template is back
        deleted = await conversation_api.delete("/v1/personas/default", headers=tenant.headers)
        assert deleted.status_code == 204
        back = (await conversation_api.get("/v1/personas/default", headers=tenant.headers)).json()
        assert (back["source"], back["instructions"]) == (
            "library",
            LIBRARY["default"].instructions,
        )


class TestDeleting:
    async def test_a_library_persona_cannot_be_deleted(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        response = await conversation_api.delete("/v1/personas/default", headers=tenant.headers)
        assert response.status_code == 409
        assert "library" in response.json()["error"]["message"]
        listed = (await conversation_api.get("/v1/personas", headers=tenant.headers)).json()
        assert "default" in {p["slug"] for p in listed}

    async def test_the_tenants_persona_is_deleted_once(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        await put(conversation_api, tenant, "concierge")
        first = await conversation_api.delete("/v1/personas/concierge", headers=tenant.headers)
        second = await conversation_api.delete("/v1/personas/concierge", headers=tenant.headers)
        assert (first.status_code, second.status_code) == (204, 404)
        gone = await conversation_api.get("/v1/personas/concierge", headers=tenant.headers)
        assert gone.status_code == 404

    async def test_the_assistants_default_persona_is_kept_until_another_is_chosen(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        await put(conversation_api, tenant, "concierge")
        chosen = await conversation_api.patch(
            "/v1/assistant/settings", json={"default_persona": "concierge"}, headers=tenant.headers
        )
        assert chosen.status_code == 200, chosen.text
        refused = await conversation_api.delete("/v1/personas/concierge", headers=tenant.headers)
        assert refused.status_code == 409
        assert "default_persona" in refused.json()["error"]["message"]
        await conversation_api.patch(
            "/v1/assistant/settings", json={"default_persona": "default"}, headers=tenant.headers
        )
        deleted = await conversation_api.delete("/v1/personas/concierge", headers=tenant.headers)
        assert deleted.status_code == 204


class TestValidation:
    @pytest.mark.parametrize(
        "slug", ["Concierge", "con_cierge", "-concierge", "x" * 65, "con%20cierge"]
    )
    async def test_a_slug_is_lowercase_letters_digits_and_hyphens(
        self, slug, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        response = await put(conversation_api, tenant, slug)
        assert response.status_code == 422, response.text

    async def test_the_longest_slug_is_accepted(self, tenant, conversation_api, accepted) -> None:
        await accepted(tenant.headers)
        response = await put(conversation_api, tenant, "a" * 63 + "9")
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "Concierge"},
            {"name": "Concierge", "instructions": ""},
            {"name": "Concierge", "instructions": "   "},
            {"name": "Concierge", "instructions": "x" * 4001},
            {"name": "x" * 101, "instructions": "Be nice."},
            {"name": "", "instructions": "Be nice."},
            {"instructions": "Be nice."},
            {"name": "Concierge", "instructions": "Be\x00 nice."},
            {"name": "Concierge", "instructions": "Be nice.", "tone": "warm"},
        ],
    )
    async def test_a_persona_needs_a_name_and_instructions_within_limits(
        self, body, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        response = await put(conversation_api, tenant, "concierge", body)
        assert response.status_code == 422, response.text
        missing = await conversation_api.get("/v1/personas/concierge", headers=tenant.headers)
        assert missing.status_code == 404

    async def test_instructions_of_4000_characters_are_accepted(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        body = {"name": "Long", "instructions": "x" * 4000}
        assert (await put(conversation_api, tenant, "long", body)).status_code == 200


class TestScopes:
    async def test_a_read_key_lists_but_cannot_write(
        self, tenant, conversation_api, key_with
    ) -> None:
        reader = await key_with(tenant, "messages:read")
        assert (await conversation_api.get("/v1/personas", headers=reader)).status_code == 200
        written = await conversation_api.put(
            "/v1/personas/concierge", json=CONCIERGE, headers=reader
        )
        assert written.status_code == 403
        await put(conversation_api, tenant, "concierge")
        deleted = await conversation_api.delete("/v1/personas/concierge", headers=reader)
        assert deleted.status_code == 403
        kept = await conversation_api.get("/v1/personas/concierge", headers=reader)
        assert kept.status_code == 200
