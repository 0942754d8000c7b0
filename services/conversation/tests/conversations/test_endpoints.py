"""Conversations API: a tenant sees its own conversations and transcripts, nobody else's."""

from __future__ import annotations

from uuid import uuid4


class TestGetConversation:
    async def test_another_tenants_conversation_is_not_found(
        self, gateway, admin_key, tenant, converse, conversation_api, accepted
    ) -> None:
        # Given tenant A's conversation, and tenant B
        conversation = await converse(tenant, "hello from A's customer")
        other = await gateway.post(
            "/v1/tenants", json={"name": "B"}, headers={"Authorization": f"Bearer {admin_key}"}
        )
        b_headers = {"Authorization": f"Bearer {other.json()['api_key']['api_key']}"}
        await accepted(b_headers)
        # When tenant B asks for it, or lists conversations
        fetched = await conversation_api.get(
            f"/v1/conversations/{conversation['id']}", headers=b_headers
        )
        listed = await conversation_api.get(
            "/v1/conversations",
            params={"contact_id": conversation["contact_id"]},
            headers=b_headers,
        )
        # Then it does not exist for B
        assert fetched.status_code == 404
        assert fetched.json()["error"]["code"] == "not_found"
        assert listed.status_code == 200
        assert listed.json() == []
        # While A still sees it
        own = await conversation_api.get(
            f"/v1/conversations/{conversation['id']}", headers=tenant.headers
        )
        assert own.status_code == 200

    async def test_an_unknown_conversation_is_not_found(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        response = await conversation_api.get(
            f"/v1/conversations/{uuid4()}", headers=tenant.headers
        )
        assert response.status_code == 404

    async def test_a_malformed_id_is_a_client_error(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        response = await conversation_api.get("/v1/conversations/nope", headers=tenant.headers)
        assert response.status_code == 422

    async def test_the_transcript_grows_in_order_and_can_be_cut_to_the_latest_turns(
        self, tenant, converse, conversation_api
    ) -> None:
        # Given a contact who wrote twice
        first = await converse(tenant, "one")
        address = (
            await conversation_api.get(
                f"/v1/contacts/{first['contact_id']}", headers=tenant.headers
            )
        ).json()["address"]
        second = await converse(tenant, "two", from_address=address)
        # Then both exchanges are in one conversation, oldest first
        assert second["id"] == first["id"]
        assert [t["role"] for t in second["turns"]] == ["user", "assistant"] * 2
        assert [t["body"] for t in second["turns"][::2]] == ["one", "two"]
        # And asking for the last two turns gives the latest exchange
        latest = await conversation_api.get(
            f"/v1/conversations/{first['id']}", params={"turns": 2}, headers=tenant.headers
        )
        assert [(t["role"], t["body"]) for t in latest.json()["turns"]] == [
            ("user", "two"),
            ("assistant", second["turns"][3]["body"]),
        ]


class TestListConversations:
    async def test_a_key_without_read_scope_is_refused(
        self, gateway, tenant, conversation_api, poll
    ) -> None:
        # Given a key that may only send
        issued = await gateway.post(
            f"/v1/tenants/{tenant.id}/api-keys",
            json={"name": "sender", "scopes": ["messages:write"]},
            headers=tenant.headers,
        )
        headers = {"Authorization": f"Bearer {issued.json()['api_key']}"}

        # When it lists conversations (once this service knows the key)
        async def known() -> int | None:
            response = await conversation_api.get("/v1/conversations", headers=headers)
            return None if response.status_code == 401 else response.status_code

        # Then it lacks the scope
        assert await poll(known) == 403

    async def test_conversations_are_listed_most_recent_first(
        self, tenant, converse, conversation_api
    ) -> None:
        older = await converse(tenant, "first contact")
        newer = await converse(tenant, "second contact")
        listed = await conversation_api.get("/v1/conversations", headers=tenant.headers)
        assert [c["id"] for c in listed.json()] == [newer["id"], older["id"]]
