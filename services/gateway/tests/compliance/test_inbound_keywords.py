"""Keywords over signed Twilio webhooks: one confirmation each, the ledger, the `consent` topic."""

from __future__ import annotations

import secrets

from switchboard.contracts import ConsentOptedIn, ConsentOptedOut, MessageReceived, Topic
from switchboard.gateway.compliance.service import DEFAULT_REPLIES

from ..helpers import random_number
from .support import messages


async def consent_of(gateway, tenant, address: str) -> dict:
    response = await gateway.get(f"/v1/compliance/consents/{address}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestStop:
    async def test_stop_sends_one_confirmation_and_publishes_the_opt_out(
        self, gateway, tenant, line, event_log
    ) -> None:
        # Given a contact texting the tenant's number
        contact = random_number()
        sid = "SM" + secrets.token_hex(16)
        # When they text "Stop." and Twilio delivers the webhook twice
        await line.text(contact, "Stop.", sid=sid)
        await line.text(contact, "Stop.", sid=sid)
        # Then exactly one confirmation is queued to them, from the number they texted
        confirmations = await messages(gateway, tenant, direction="outbound", origin="system")
        assert [(m["to_address"], m["from_address"], m["body"]) for m in confirmations] == [
            (contact, line.number, DEFAULT_REPLIES["opt_out"])
        ]
        # And one consent.opted_out is published on `consent`, keyed by tenant and address
        records = await event_log.wait(Topic.CONSENT, tenant.id, lambda events: len(events) >= 1)
        assert len(records) == 1
        key, event = records[0]
        assert isinstance(event, ConsentOptedOut)
        assert key == f"{tenant.id}:{contact}".encode()
        assert (event.data.address, event.data.source, event.data.keyword) == (
            contact,
            "keyword",
            "stop",
        )
        # And the message.received event says it was a keyword (nobody else answers it)
        inbound = await event_log.wait(Topic.MESSAGES_INBOUND, tenant.id, lambda e: len(e) >= 1)
        assert [e.data.keyword for _, e in inbound if isinstance(e, MessageReceived)] == ["opt_out"]

    async def test_the_ledger_keeps_who_when_which_words_and_channel(
        self, gateway, tenant, line
    ) -> None:
        contact = random_number()
        await line.text(contact, "STOP texting me")
        await line.text(contact, "start")
        consent = await consent_of(gateway, tenant, contact)
        assert consent["status"] == "opted_in"
        history = [
            (h["status"], h["source"], h["keyword"], h["words"], h["channel"], h["sender_address"])
            for h in consent["history"]
        ]
        assert history == [
            ("opted_out", "keyword", "stop", "STOP texting me", "sms", line.number),
            ("opted_in", "keyword", "start", "start", "sms", line.number),
        ]
        assert all(h["inbound_message_id"] for h in consent["history"])


class TestStartAndHelp:
    async def test_start_after_stop_opts_back_in_with_one_confirmation(
        self, gateway, tenant, line, event_log
    ) -> None:
        contact = random_number()
        await line.text(contact, "UNSUBSCRIBE")
        await line.text(contact, "Unstop please")
        bodies = [
            m["body"]
            for m in await messages(gateway, tenant, direction="outbound", origin="system")
        ]
        assert sorted(bodies) == sorted([DEFAULT_REPLIES["opt_out"], DEFAULT_REPLIES["opt_in"]])
        records = await event_log.wait(Topic.CONSENT, tenant.id, lambda e: len(e) >= 2)
        assert [type(e) for _, e in records] == [ConsentOptedOut, ConsentOptedIn]

    async def test_yes_from_a_subscribed_contact_is_an_ordinary_message(
        self, gateway, tenant, line, event_log
    ) -> None:
        contact = random_number()
        await line.text(contact, "Yes")
        inbound = await event_log.wait(Topic.MESSAGES_INBOUND, tenant.id, lambda e: len(e) >= 1)
        assert [e.data.keyword for _, e in inbound if isinstance(e, MessageReceived)] == [None]
        assert await messages(gateway, tenant, direction="outbound") == []
        assert (await consent_of(gateway, tenant, contact))["status"] == "unknown"

    async def test_help_answers_the_tenants_help_text_and_changes_no_consent(
        self, gateway, tenant, line
    ) -> None:
        # Given the tenant's own help text
        text = "Acme Shop: call 555-0100. Reply STOP to stop."
        patched = await gateway.patch(
            "/v1/compliance/settings", json={"help_text": text}, headers=tenant.headers
        )
        assert patched.status_code == 200, patched.text
        contact = random_number()
        # When a contact texts HELP, then INFO
        await line.text(contact, "HELP")
        await line.text(contact, "info?")
        # Then each gets the help text, once, and consent is untouched
        replies = await messages(gateway, tenant, direction="outbound", origin="system")
        assert [m["body"] for m in replies] == [text, text]
        assert (await consent_of(gateway, tenant, contact))["status"] == "unknown"

    async def test_the_default_help_text(self, gateway, tenant, line) -> None:
        await line.text(random_number(), "help")
        replies = await messages(gateway, tenant, direction="outbound", origin="system")
        assert [m["body"] for m in replies] == [DEFAULT_REPLIES["help"]]


class TestOwnKeywords:
    async def test_keywords_in_another_language_with_their_confirmation(
        self, gateway, tenant, line
    ) -> None:
        # Given Spanish keywords
        spanish = {"opt_out": ["Baja", "No más"], "opt_out_reply": "Te has dado de baja."}
        put = await gateway.put("/v1/compliance/keywords/es", json=spanish, headers=tenant.headers)
        assert put.status_code == 200, put.text
        assert put.json()["opt_out"] == ["baja", "no más"]
        contact = random_number()
        # When a contact texts "NO MÁS!"
        await line.text(contact, "NO MÁS!")
        # Then they are opted out, confirmed in Spanish
        replies = await messages(gateway, tenant, direction="outbound", origin="system")
        assert [m["body"] for m in replies] == ["Te has dado de baja."]
        consent = await consent_of(gateway, tenant, contact)
        assert (consent["status"], consent["history"][0]["keyword"]) == ("opted_out", "no más")
        listed = await gateway.get("/v1/compliance/keywords", headers=tenant.headers)
        assert [s["language"] for s in listed.json()] == ["es"]

    async def test_standard_keywords_cannot_change_meaning(self, gateway, tenant) -> None:
        bad = await gateway.put(
            "/v1/compliance/keywords/en", json={"opt_in": ["STOP"]}, headers=tenant.headers
        )
        assert bad.status_code == 400
        assert "STOP" in bad.json()["error"]["message"]
        tag = await gateway.put(
            "/v1/compliance/keywords/not a tag", json={}, headers=tenant.headers
        )
        assert tag.status_code == 400
        await gateway.put(
            "/v1/compliance/keywords/fr", json={"help": ["aide"]}, headers=tenant.headers
        )
        clash = await gateway.put(
            "/v1/compliance/keywords/es", json={"opt_out": ["aide"]}, headers=tenant.headers
        )
        assert clash.status_code == 409
        missing = await gateway.delete("/v1/compliance/keywords/de", headers=tenant.headers)
        assert missing.status_code == 404
