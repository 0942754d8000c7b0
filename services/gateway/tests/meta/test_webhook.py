"""Meta's WhatsApp webhook: handshake, signatures on the raw body, batches, duplicates, tenants."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from itertools import permutations

import pytest

from switchboard.contracts import MessageReceived, Topic
from switchboard.devstack import fake_meta as meta
from switchboard.devstack.fake_meta import FakeMeta, MetaNumber

from ..helpers import random_number, wait_for_status
from .conftest import VERIFY_TOKEN, events_of, register_meta_number

WEBHOOK = "/v1/webhooks/meta"


def signed(number: MetaNumber, payload: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {
        "X-Hub-Signature-256": meta.sign(number.app_secret, body),
        "Content-Type": "application/json",
    }


async def inbound_bodies(gateway, tenant) -> list[str]:
    messages = (await gateway.get("/v1/messages", headers=tenant.headers)).json()
    return sorted(m["body"] for m in messages if m["direction"] == "inbound")


class TestHandshake:
    async def test_the_configured_verify_token_gets_the_challenge_back(self, gateway) -> None:
        # When Meta subscribes with the configured token
        params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
        response = await gateway.get(WEBHOOK, params=params)
        # Then the challenge is echoed as plain text
        assert response.status_code == 200
        assert response.text == "42"

    async def test_a_forged_verify_token_is_forbidden(self, gateway) -> None:
        params = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "42"}
        response = await gateway.get(WEBHOOK, params=params)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"

    async def test_a_handshake_without_its_parameters_is_a_client_error(self, gateway) -> None:
        assert (await gateway.get(WEBHOOK)).status_code == 422


class TestSignature:
    @pytest.mark.parametrize("case", ["forged", "missing", "reserialised", "wrong_secret"])
    async def test_only_the_app_secret_over_the_raw_body_is_accepted(
        self, gateway, tenant, fake_meta: FakeMeta, case: str
    ) -> None:
        # Given a tenant's Meta number, and a notification signed over its exact bytes
        number = await register_meta_number(gateway, tenant, fake_meta)
        payload = meta.notification(
            meta.entry(number, meta.change(number, [meta.text(random_number(), "héllo 👋")]))
        )
        body, headers = signed(number, payload)
        # When it arrives tampered with (or intact, for the control below)
        if case == "forged":
            headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
        elif case == "missing":
            del headers["X-Hub-Signature-256"]
        elif case == "reserialised":  # same JSON, other bytes (separators, escapes)
            body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        elif case == "wrong_secret":
            headers["X-Hub-Signature-256"] = meta.sign(secrets.token_hex(16), body)
        refused = await gateway.post(WEBHOOK, content=body, headers=headers)
        # Then it is refused and nothing is recorded
        assert refused.status_code == 403, refused.text
        assert await inbound_bodies(gateway, tenant) == []

    async def test_a_valid_signature_is_accepted(self, gateway, tenant, fake_meta) -> None:
        number = await register_meta_number(gateway, tenant, fake_meta)
        response = await fake_meta.post(number, messages=[meta.text(random_number(), "hi")])
        assert response.status_code == 200, response.text
        assert await inbound_bodies(gateway, tenant) == ["hi"]

    async def test_an_unknown_number_is_not_found(self, gateway, fake_meta) -> None:
        stranger = fake_meta.add_number(random_number())
        response = await fake_meta.post(stranger, messages=[meta.text(random_number(), "x")])
        assert response.status_code == 404

    async def test_a_body_that_is_not_a_notification_is_a_client_error(self, gateway) -> None:
        response = await gateway.post(WEBHOOK, content=b"{not json", headers={})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"


class TestMessages:
    async def test_a_batch_is_recorded_and_published_once_per_message(
        self, gateway, tenant, fake_meta: FakeMeta, event_log
    ) -> None:
        # Given two numbers of one tenant on one Meta app (two business accounts)
        first = await register_meta_number(gateway, tenant, fake_meta)
        second = await register_meta_number(gateway, tenant, fake_meta, app_secret=first.app_secret)
        contact = random_number()
        messages_one = [
            meta.text(contact, "hello"),
            meta.media(contact, "image", "media-1", "image/jpeg", caption="my receipt"),
            meta.media(contact, "audio", "media-2", "audio/ogg"),
        ]
        messages_two = [
            meta.button_reply(contact, "yes-1", "Yes"),
            meta.list_reply(contact, "row-7", "Tuesday", "Afternoon slot"),
            meta.media(contact, "document", "media-3", "application/pdf", caption="invoice"),
        ]
        unknown = meta.status("wamid.unknown", "delivered", contact)
        payload = meta.notification(
            meta.entry(first, meta.change(first, messages_one, [unknown])),
            meta.entry(second, meta.change(second, messages_two, [unknown])),
        )
        body, headers = signed(first, payload)
        # When Meta delivers the batch, then delivers it again
        assert (await gateway.post(WEBHOOK, content=body, headers=headers)).status_code == 200
        assert (await gateway.post(WEBHOOK, content=body, headers=headers)).status_code == 200
        # Then every message is stored once, and published once on messages.inbound
        assert await inbound_bodies(gateway, tenant) == sorted(
            ["hello", "my receipt", "", "Yes", "Tuesday", "invoice"]
        )
        events = await events_of(
            event_log, Topic.MESSAGES_INBOUND, tenant.id, until=lambda found: len(found) >= 6
        )
        received = [e for e in events if isinstance(e, MessageReceived)]
        wamids = [m["id"] for m in messages_one + messages_two]
        assert Counter(e.data.provider_message_id for e in received) == Counter(wamids)
        by_wamid = {e.data.provider_message_id: e.data for e in received}
        image = by_wamid[messages_one[1]["id"]]
        assert (image.channel, image.provider, image.from_address) == ("whatsapp", "meta", contact)
        assert image.to_address == first.display_phone_number
        assert image.media[0].provider_media_id == "media-1"
        assert image.media[0].content_type == "image/jpeg"
        assert by_wamid[messages_two[2]["id"]].to_address == second.display_phone_number
        button = by_wamid[messages_two[0]["id"]].interactive
        assert button is not None
        assert (button.kind, button.id, button.title) == (
            "button_reply",
            "yes-1",
            "Yes",
        )
        row = by_wamid[messages_two[1]["id"]].interactive
        assert row is not None
        assert (row.kind, row.id, row.description) == (
            "list_reply",
            "row-7",
            "Afternoon slot",
        )


class TestStatuses:
    async def test_statuses_in_any_order_end_at_read(
        self, gateway, tenant, dispatching: FakeMeta
    ) -> None:
        # Given six messages sent through a Meta number
        number = await register_meta_number(gateway, tenant, dispatching)
        contact = random_number()
        await dispatching.post(number, messages=[meta.text(contact, "hi")])  # opens the window
        orders = list(permutations(["sent", "delivered", "read"]))
        sent = []
        for i in range(len(orders)):
            created = await gateway.post(
                "/v1/messages",
                json={"to": contact, "channel": "whatsapp", "body": f"update {i}"},
                headers=tenant.headers,
            )
            assert created.status_code == 202, created.text
            sent.append(await wait_for_status(gateway, tenant, created.json()["id"], "sent"))
        # When Meta reports sent, delivered and read in every possible order
        for message, order in zip(sent, orders, strict=True):
            for state in order:
                report = meta.status(message["provider_message_id"], state, contact)
                assert (await dispatching.post(number, statuses=[report])).status_code == 200
        # Then every message ends read, with every report in its history
        for message in sent:
            after = (
                await gateway.get(f"/v1/messages/{message['id']}", headers=tenant.headers)
            ).json()
            assert after["status"] == "read"
            reported = [h["status"] for h in after["history"] if h["source"] == "meta"]
            assert sorted(reported) == ["delivered", "read", "sent"]

    async def test_a_batch_mixes_messages_and_statuses_and_unknown_statuses_are_kept(
        self, gateway, tenant, dispatching: FakeMeta
    ) -> None:
        # Given a message sent through each of two numbers (one app)
        first = await register_meta_number(gateway, tenant, dispatching)
        second = await register_meta_number(
            gateway, tenant, dispatching, app_secret=first.app_secret
        )
        contact = random_number()
        sent = []
        for number in (first, second):
            await dispatching.post(number, messages=[meta.text(contact, "open")])
            created = await gateway.post(
                "/v1/messages",
                json={
                    "to": contact,
                    "channel": "whatsapp",
                    "body": "x",
                    "from": number.display_phone_number,
                },
                headers=tenant.headers,
            )
            sent.append(await wait_for_status(gateway, tenant, created.json()["id"], "sent"))
        wamid_one, wamid_two = (m["provider_message_id"] for m in sent)
        failure = [{"code": 131026, "title": "Message undeliverable"}]
        payload = meta.notification(
            meta.entry(
                first,
                meta.change(
                    first,
                    [meta.text(contact, "thanks")],
                    [
                        meta.status(wamid_one, "read", contact),
                        meta.status(wamid_one, "deleted", contact),
                    ],
                ),
            ),
            meta.entry(
                second,
                meta.change(
                    second, [], [meta.status(wamid_two, "failed", contact, errors=failure)]
                ),
            ),
        )
        body, headers = signed(first, payload)
        # When Meta delivers it
        assert (await gateway.post(WEBHOOK, content=body, headers=headers)).status_code == 200
        # Then each status lands on its message; the unknown one is only history
        one = (await gateway.get(f"/v1/messages/{sent[0]['id']}", headers=tenant.headers)).json()
        two = (await gateway.get(f"/v1/messages/{sent[1]['id']}", headers=tenant.headers)).json()
        assert one["status"] == "read"
        assert "deleted" in [h["status"] for h in one["history"]]
        assert (two["status"], two["error_code"]) == ("failed", "131026")
        assert "thanks" in await inbound_bodies(gateway, tenant)


class TestTenantIsolation:
    async def test_a_tenant_cannot_touch_another_tenants_messages(
        self, gateway, new_tenant, dispatching: FakeMeta
    ) -> None:
        # Given tenant A's message sent through A's number, and tenant B with its own number
        alice, bob = await new_tenant(), await new_tenant()
        a_number = await register_meta_number(gateway, alice, dispatching)
        b_number = await register_meta_number(gateway, bob, dispatching)
        contact = random_number()
        await dispatching.post(a_number, messages=[meta.text(contact, "for alice")])
        created = await gateway.post(
            "/v1/messages",
            json={"to": contact, "channel": "whatsapp", "body": "hi"},
            headers=alice.headers,
        )
        message = await wait_for_status(gateway, alice, created.json()["id"], "sent")
        wamid = message["provider_message_id"]
        # When B reports on A's wamid (and on A's id) through B's own signed webhook
        forged = [
            meta.status(wamid, "read", contact),
            meta.status("wamid.other", "read", contact, callback_data=message["id"]),
        ]
        assert (await dispatching.post(b_number, statuses=forged)).status_code == 200
        # And signs a notification about A's number with B's secret
        payload = meta.notification(
            meta.entry(a_number, meta.change(a_number, [meta.text(contact, "spoof")]))
        )
        body = json.dumps(payload).encode()
        spoof = await gateway.post(
            WEBHOOK,
            content=body,
            headers={"X-Hub-Signature-256": meta.sign(b_number.app_secret, body)},
        )
        # Then A's message is untouched, the spoof is refused, and B sees none of A's messages
        after = (await gateway.get(f"/v1/messages/{message['id']}", headers=alice.headers)).json()
        assert after["status"] == "sent"
        assert spoof.status_code == 403
        assert await inbound_bodies(gateway, bob) == []
        assert await inbound_bodies(gateway, alice) == ["for alice"]
        hidden = await gateway.get(f"/v1/messages/{message['id']}", headers=bob.headers)
        assert hidden.status_code == 404

    async def test_a_phone_number_id_belongs_to_one_tenant(
        self, gateway, new_tenant, fake_meta: FakeMeta
    ) -> None:
        alice, bob = await new_tenant(), await new_tenant()
        number = await register_meta_number(gateway, alice, fake_meta)
        again = await gateway.post(
            "/v1/numbers",
            json={
                "address": random_number(),
                "channel": "whatsapp",
                "provider": "meta",
                "meta": {
                    "phone_number_id": number.phone_number_id,
                    "waba_id": number.waba_id,
                    "access_token": "EAAGxxxxxxxx",
                    "app_secret": "another-secret",
                },
            },
            headers=bob.headers,
        )
        assert again.status_code == 409


class TestKeywords:
    async def test_stop_on_whatsapp_opts_out_with_one_confirmation(
        self, gateway, tenant, fake_meta
    ) -> None:
        # Given a tenant's Meta number, and a contact who writes STOP there (twice: a retry)
        number = await register_meta_number(gateway, tenant, fake_meta)
        contact = random_number()
        payload = meta.notification(
            meta.entry(number, meta.change(number, [meta.text(contact.lstrip("+"), "Stop.")]))
        )
        for _ in range(2):
            body, headers = signed(number, payload)
            response = await gateway.post(WEBHOOK, content=body, headers=headers)
            assert response.status_code == 200, response.text
        # Then the contact is opted out for the tenant, and one confirmation is queued
        consent = await gateway.get(f"/v1/compliance/consents/{contact}", headers=tenant.headers)
        assert consent.json()["status"] == "opted_out"
        messages = (await gateway.get("/v1/messages", headers=tenant.headers)).json()
        replies = [m for m in messages if m["direction"] == "outbound"]
        assert [(m["to_address"], m["origin"], m["channel"]) for m in replies] == [
            (contact, "system", "whatsapp")
        ]
