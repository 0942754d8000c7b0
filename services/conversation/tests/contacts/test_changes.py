"""Contacts API: an operator changes a profile, exports a contact's history, erases a contact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select, update

from switchboard.common.db import Database
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import ContactDeleted, ContactUpserted, Topic, contact_key
from switchboard.conversation.models import Contact, Conversation, Turn

from ..conftest import random_number


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    database = Database(PlatformSettings().database_url, pool_size=2)
    yield database
    await database.dispose()


async def close_conversation(db: Database, conversation_id: str) -> None:
    """What the assistant does on RESET or inactivity: the next message opens a new one."""
    async with db.transaction() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == UUID(conversation_id))
            .values(status="closed", closed_at=func.now())
        )


async def turn_count(db: Database, conversation_ids: list[str]) -> int:
    async with db.transaction() as session:
        statement = select(func.count()).where(
            Turn.conversation_id.in_([UUID(i) for i in conversation_ids])
        )
        return int(await session.scalar(statement) or 0)


async def contact_of(api, tenant, conversation: dict[str, Any]) -> dict[str, Any]:
    response = await api.get(f"/v1/contacts/{conversation['contact_id']}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestPatch:
    async def test_a_change_is_saved_and_published(
        self, tenant, converse, conversation_api, read_records
    ) -> None:
        contact = await contact_of(conversation_api, tenant, await converse(tenant, "hello"))
        # When an operator fills in the profile
        change = {
            "display_name": "Ada Lovelace",
            "time_zone": "Europe/London",
            "language": "en-GB",
            "attributes": {"tier": "gold", "account": "A-17"},
            "blocked": True,
        }
        response = await conversation_api.patch(
            f"/v1/contacts/{contact['id']}", json=change, headers=tenant.headers
        )
        # Then it is saved
        assert response.status_code == 200, response.text
        assert {k: response.json()[k] for k in change} == change
        stored = await contact_of(conversation_api, tenant, {"contact_id": contact["id"]})
        assert stored == response.json()

        # And published on `contacts`, keyed like the contact's messages
        def changed(events: list[Any]) -> bool:
            return any(
                isinstance(e, ContactUpserted) and e.data.display_name == "Ada Lovelace"
                for e in events
            )

        records = await read_records(Topic.CONTACTS, tenant.id, changed)
        key, event = next((k, e) for k, e in records if changed([e]))
        assert key == contact_key(tenant.id, contact["address"])
        assert event.data.model_dump() == {
            "contact_id": UUID(contact["id"]),
            "address": contact["address"],
            "display_name": "Ada Lovelace",
            "time_zone": "Europe/London",
            "attributes": {"tier": "gold", "account": "A-17"},
            "blocked": True,
            "persona": None,
            "language": "en-GB",
        }

    async def test_attributes_merge_and_null_removes_one(
        self, tenant, converse, conversation_api
    ) -> None:
        contact = await contact_of(conversation_api, tenant, await converse(tenant, "hello"))
        url = f"/v1/contacts/{contact['id']}"
        await conversation_api.patch(
            url, json={"attributes": {"a": "1", "b": "2"}}, headers=tenant.headers
        )
        merged = await conversation_api.patch(
            url, json={"attributes": {"a": None, "c": "3", "gone": None}}, headers=tenant.headers
        )
        assert merged.status_code == 200, merged.text
        assert merged.json()["attributes"] == {"b": "2", "c": "3"}
        # A change that leaves the attributes alone keeps them
        renamed = await conversation_api.patch(
            url, json={"display_name": "B"}, headers=tenant.headers
        )
        assert renamed.json()["attributes"] == {"b": "2", "c": "3"}

    async def test_null_clears_a_field_and_a_persona_must_be_the_tenants(
        self, tenant, converse, conversation_api
    ) -> None:
        contact = await contact_of(conversation_api, tenant, await converse(tenant, "hello"))
        url = f"/v1/contacts/{contact['id']}"
        await conversation_api.put(
            "/v1/personas/concierge",
            json={"name": "Concierge", "instructions": "Be formal."},
            headers=tenant.headers,
        )
        chosen = await conversation_api.patch(
            url,
            json={"persona": "concierge", "language": "es", "time_zone": "America/New_York"},
            headers=tenant.headers,
        )
        assert chosen.status_code == 200, chosen.text
        assert (chosen.json()["persona"], chosen.json()["language"]) == ("concierge", "es")
        cleared = await conversation_api.patch(
            url, json={"persona": None, "time_zone": None}, headers=tenant.headers
        )
        assert cleared.status_code == 200, cleared.text
        body = cleared.json()
        assert (body["persona"], body["time_zone"], body["language"]) == (None, None, "es")

    async def test_an_invalid_change_is_a_422_and_changes_nothing(
        self, tenant, converse, conversation_api
    ) -> None:
        contact = await contact_of(conversation_api, tenant, await converse(tenant, "hello"))
        url = f"/v1/contacts/{contact['id']}"
        invalid: list[dict[str, Any]] = [
            {"time_zone": "Mars/Olympus_Mons"},
            {"time_zone": "+02:00"},
            {"time_zone": "../../etc/passwd"},
            {"time_zone": ""},
            {"language": "x" * 36},
            {"language": ""},
            {"persona": "nobody"},
            {"persona": "Not A Slug"},
            {"display_name": "x" * 201},
            {"attributes": {f"k{i}": "v" for i in range(51)}},
            {"attributes": {"k" * 65: "v"}},
            {"attributes": {"": "v"}},
            {"attributes": {"k": "v" * 501}},
            {"attributes": {"k": 5}},
            {"attributes": {"k": "v\x00"}},
            {"attributes": ["k"]},
            {"blocked": None},
            {"blocked": "yes"},
            {"name": "Ada"},
        ]
        for change in invalid:
            response = await conversation_api.patch(url, json=change, headers=tenant.headers)
            assert response.status_code == 422, (change, response.text)
        assert await contact_of(conversation_api, tenant, {"contact_id": contact["id"]}) == contact

    async def test_an_unknown_persona_is_refused_by_name(
        self, tenant, converse, conversation_api
    ) -> None:
        contact = await contact_of(conversation_api, tenant, await converse(tenant, "hello"))
        response = await conversation_api.patch(
            f"/v1/contacts/{contact['id']}", json={"persona": "nobody"}, headers=tenant.headers
        )
        assert response.status_code == 422
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "persona"]
        assert "'nobody'" in error["msg"]

    async def test_a_contact_has_at_most_50_attributes(
        self, tenant, converse, conversation_api
    ) -> None:
        contact = await contact_of(conversation_api, tenant, await converse(tenant, "hello"))
        url = f"/v1/contacts/{contact['id']}"
        fifty = {f"k{i}": "v" for i in range(50)}
        full = await conversation_api.patch(url, json={"attributes": fifty}, headers=tenant.headers)
        assert full.status_code == 200, full.text
        over = await conversation_api.patch(
            url, json={"attributes": {"one-more": "v"}}, headers=tenant.headers
        )
        assert over.status_code == 422
        assert "50" in over.json()["detail"][0]["msg"]
        swapped = await conversation_api.patch(
            url, json={"attributes": {"k0": None, "one-more": "v"}}, headers=tenant.headers
        )
        assert swapped.status_code == 200, swapped.text
        assert len(swapped.json()["attributes"]) == 50

    async def test_changing_a_contact_needs_the_write_scope(
        self, tenant, converse, conversation_api, key_with
    ) -> None:
        contact = await contact_of(conversation_api, tenant, await converse(tenant, "hello"))
        url = f"/v1/contacts/{contact['id']}"
        reader = await key_with(tenant, "messages:read")
        writer = await key_with(tenant, "messages:read", "messages:write")
        refused = await conversation_api.patch(url, json={"blocked": True}, headers=reader)
        assert refused.status_code == 403
        allowed = await conversation_api.patch(url, json={"blocked": True}, headers=writer)
        assert allowed.status_code == 200, allowed.text

    async def test_another_tenants_contact_is_not_found(
        self, tenant, new_tenant, converse, conversation_api, accepted
    ) -> None:
        contact = await contact_of(conversation_api, tenant, await converse(tenant, "hello"))
        other = await new_tenant()
        await accepted(other.headers)
        response = await conversation_api.patch(
            f"/v1/contacts/{contact['id']}", json={"blocked": True}, headers=other.headers
        )
        assert response.status_code == 404
        mine = await contact_of(conversation_api, tenant, {"contact_id": contact["id"]})
        assert mine["blocked"] is False


class TestExport:
    async def test_the_export_holds_every_conversation_and_turn(
        self, tenant, converse, conversation_api, db
    ) -> None:
        # Given a contact with a closed conversation and an open one
        address = random_number()
        first = await converse(tenant, "hello", from_address=address)
        first = await converse(tenant, "are you open on Sunday?", from_address=address)
        await close_conversation(db, first["id"])
        second = await converse(tenant, "me again", from_address=address)
        assert second["id"] != first["id"]
        await converse(tenant, "someone else")
        # When the operator exports it
        response = await conversation_api.get(
            f"/v1/contacts/{first['contact_id']}/export", headers=tenant.headers
        )
        # Then it is one JSON file holding the contact and both conversations, every turn
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        disposition = response.headers["content-disposition"]
        assert disposition == f'attachment; filename="contact-{first["contact_id"]}.json"'
        export = response.json()
        contact = await contact_of(conversation_api, tenant, first)
        assert export["contact"] == contact
        assert export["exported_at"]
        conversations = export["conversations"]
        assert [(c["id"], c["status"]) for c in conversations] == [
            (first["id"], "closed"),
            (second["id"], "open"),
        ]
        assert conversations[0]["closed_at"] is not None
        for exported, shown in zip(conversations, (first, second), strict=True):
            detail = await conversation_api.get(
                f"/v1/conversations/{shown['id']}", headers=tenant.headers
            )
            turns = detail.json()["turns"]
            assert [t["id"] for t in exported["turns"]] == [t["id"] for t in turns]
            assert [t["body"] for t in exported["turns"]] == [t["body"] for t in turns]
        user_bodies = [t["body"] for c in conversations for t in c["turns"] if t["role"] == "user"]
        assert user_bodies == ["hello", "are you open on Sunday?", "me again"]
        reply = next(t for t in conversations[0]["turns"] if t["role"] == "assistant")
        for field in (
            "outcome",
            "created_at",
            "delivery_status",
            "provider",
            "model",
            "moderation",
        ):
            assert field in reply
        assert reply["provider"]
        assert reply["model"]
        assert reply["delivery_status"]

    async def test_another_tenant_cannot_export_it(
        self, tenant, new_tenant, converse, conversation_api, accepted
    ) -> None:
        conversation = await converse(tenant, "hello")
        other = await new_tenant()
        await accepted(other.headers)
        url = f"/v1/contacts/{conversation['contact_id']}/export"
        assert (await conversation_api.get(url, headers=other.headers)).status_code == 404
        assert (await conversation_api.get(url, headers=tenant.headers)).status_code == 200


class TestDelete:
    async def test_erasing_a_contact_removes_its_history_and_is_published(
        self, tenant, new_tenant, converse, conversation_api, read_records, db
    ) -> None:
        # Given a contact with two conversations, another contact, and another tenant's contact
        address = random_number()
        first = await converse(tenant, "hello", from_address=address)
        await close_conversation(db, first["id"])
        second = await converse(tenant, "again", from_address=address)
        kept = await converse(tenant, "I stay")
        other = await new_tenant()
        theirs = await converse(other, "hello", from_address=address)
        erased_ids = [first["id"], second["id"]]
        assert await turn_count(db, erased_ids) >= 4
        contact_id = first["contact_id"]
        # When the tenant's admin erases the contact
        response = await conversation_api.delete(
            f"/v1/contacts/{contact_id}", headers=tenant.headers
        )
        # Then it, its conversations and every turn are gone
        assert response.status_code == 204, response.text
        assert response.content == b""
        for url in (
            f"/v1/contacts/{contact_id}",
            f"/v1/contacts/{contact_id}/export",
            f"/v1/conversations/{first['id']}",
            f"/v1/conversations/{second['id']}",
        ):
            gone = await conversation_api.get(url, headers=tenant.headers)
            assert gone.status_code == 404, url
        listed = await conversation_api.get(
            "/v1/conversations", params={"contact_id": contact_id}, headers=tenant.headers
        )
        assert listed.json() == []
        assert await turn_count(db, erased_ids) == 0
        async with db.transaction() as session:
            assert await session.get(Contact, UUID(contact_id)) is None
        # And the tenant's other contact and the other tenant's contact are untouched
        for owner, conversation in ((tenant, kept), (other, theirs)):
            detail = await conversation_api.get(
                f"/v1/conversations/{conversation['id']}", headers=owner.headers
            )
            assert detail.status_code == 200
            assert detail.json()["turns"] == conversation["turns"]
            await contact_of(conversation_api, owner, conversation)

        # And `contact.deleted` is published, keyed like the contact's messages
        def deleted(events: list[Any]) -> bool:
            return any(isinstance(e, ContactDeleted) for e in events)

        records = await read_records(Topic.CONTACTS, tenant.id, deleted)
        published = [(k, e) for k, e in records if isinstance(e, ContactDeleted)]
        assert [(k, e.data.contact_id) for k, e in published] == [
            (contact_key(tenant.id, address), UUID(contact_id))
        ]
        # And a second erasure finds nothing
        again = await conversation_api.delete(f"/v1/contacts/{contact_id}", headers=tenant.headers)
        assert again.status_code == 404

    async def test_erasing_needs_the_admin_scope(
        self, tenant, converse, conversation_api, key_with
    ) -> None:
        conversation = await converse(tenant, "hello")
        writer = await key_with(tenant, "messages:read", "messages:write")
        url = f"/v1/contacts/{conversation['contact_id']}"
        refused = await conversation_api.delete(url, headers=writer)
        assert refused.status_code == 403
        assert (await conversation_api.get(url, headers=tenant.headers)).status_code == 200

    async def test_another_tenant_cannot_erase_it(
        self, tenant, new_tenant, converse, conversation_api, accepted
    ) -> None:
        conversation = await converse(tenant, "hello")
        other = await new_tenant()
        await accepted(other.headers)
        url = f"/v1/contacts/{conversation['contact_id']}"
        assert (await conversation_api.delete(url, headers=other.headers)).status_code == 404
        assert (await conversation_api.get(url, headers=tenant.headers)).status_code == 200
