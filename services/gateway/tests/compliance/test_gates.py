"""The dispatcher's compliance: opted-out addresses, kill switch, countries, daily budget."""

from __future__ import annotations

import asyncio
import secrets

from switchboard.contracts import MessageRequested, MessageRequestedData
from switchboard.devstack.fake_twilio import UNSUBSCRIBED_NUMBER

from ..helpers import random_number
from .support import messages, open_line

US, FRANCE = "+14155550123", "+33612345678"


async def send(gateway, tenant, to: str, body: str = "Your order shipped") -> str:
    response = await gateway.post(
        "/v1/messages", json={"to": to, "body": body}, headers=tenant.headers
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def settled(gateway, tenant, count: int) -> list[dict]:
    """Wait until `count` outbound messages have left `queued`/`sending`; return them all."""
    for _ in range(300):
        outbound = await messages(gateway, tenant, direction="outbound")
        done = [m for m in outbound if m["status"] not in ("queued", "sending", "sent")]
        if len(done) >= count:
            return outbound
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(done)} of {count} messages settled: {outbound}")


class TestOptedOut:
    async def test_after_stop_nothing_reaches_the_contact_whoever_asks(
        self, gateway, tenant, fake_twilio, dispatching, outbound_requests, publish
    ) -> None:
        # Given a contact who texted STOP
        line = await open_line(gateway, tenant, fake_twilio)
        contact = random_number()
        await line.text(contact, "stop")
        # When an operator, the assistant and a campaign all send to them
        await send(gateway, tenant, contact)
        for origin in ("reply", "campaign"):
            request = MessageRequestedData(
                idempotency_key=f"{origin}:{secrets.token_hex(8)}",
                origin=origin,
                priority="reply" if origin == "reply" else "bulk",
                channel="sms",
                to_address=contact,
                body=f"from the {origin}",
            )
            await publish(MessageRequested.create(tenant.id, request))
        # Then only the STOP confirmation is sent; every other send is refused with the reason
        outbound = await settled(gateway, tenant, 4)
        outcome = sorted((m["origin"], m["status"], m["error_code"]) for m in outbound)
        assert outcome == [
            ("campaign", "refused", "opted_out"),
            ("operator", "refused", "opted_out"),
            ("reply", "refused", "opted_out"),
            ("system", "delivered", None),
        ]
        await fake_twilio.drain()
        assert [m["Body"] for m in fake_twilio.messages if m["To"] == contact] == [
            next(m["body"] for m in outbound if m["origin"] == "system")
        ]

    async def test_a_carrier_opt_out_is_learned_and_kept(
        self, gateway, tenant, fake_twilio, dispatching
    ) -> None:
        # Given a contact who unsubscribed at the carrier, not through us
        await open_line(gateway, tenant, fake_twilio)
        # When the tenant sends to them
        await send(gateway, tenant, UNSUBSCRIBED_NUMBER)
        [first] = await settled(gateway, tenant, 1)
        # Then the send fails with Twilio's code, and the ledger records the opt-out
        assert (first["status"], first["error_code"]) == ("failed", "21610")
        path = f"/v1/compliance/consents/{UNSUBSCRIBED_NUMBER}"
        consent = (await gateway.get(path, headers=tenant.headers)).json()
        assert consent["status"] == "opted_out"
        assert [h["source"] for h in consent["history"]] == ["carrier"]
        # And the next send is refused before it reaches Twilio
        await send(gateway, tenant, UNSUBSCRIBED_NUMBER, body="Another one")
        outbound = await settled(gateway, tenant, 2)
        assert sorted((m["status"], m["error_code"]) for m in outbound) == [
            ("failed", "21610"),
            ("refused", "opted_out"),
        ]
        assert [m["Body"] for m in fake_twilio.messages if m["To"] == UNSUBSCRIBED_NUMBER] == []

    async def test_start_restores_sending(self, gateway, tenant, fake_twilio, dispatching) -> None:
        line = await open_line(gateway, tenant, fake_twilio)
        contact = random_number()
        await line.text(contact, "STOP")
        await line.text(contact, "START")
        await send(gateway, tenant, contact, "welcome back")
        outbound = await settled(gateway, tenant, 3)
        assert sorted((m["origin"], m["status"]) for m in outbound) == [
            ("operator", "delivered"),
            ("system", "delivered"),
            ("system", "delivered"),
        ]

    async def test_an_operator_opt_out_by_api_is_enforced_and_kept(
        self, gateway, tenant, fake_twilio, dispatching
    ) -> None:
        await open_line(gateway, tenant, fake_twilio)
        contact = random_number()
        changed = await gateway.post(
            f"/v1/compliance/consents/{contact}/opt-out",
            json={"source": "operator", "note": "asked by phone"},
            headers=tenant.headers,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["status"] == "opted_out"
        assert [(h["source"], h["words"]) for h in changed.json()["history"]] == [
            ("operator", "asked by phone")
        ]
        await send(gateway, tenant, contact)
        [message] = await settled(gateway, tenant, 1)
        assert (message["status"], message["error_code"]) == ("refused", "opted_out")

    async def test_one_tenants_opt_out_does_not_touch_another(
        self, gateway, tenant, new_tenant, fake_twilio, dispatching
    ) -> None:
        # Given a contact who opted out of tenant A
        other = await new_tenant()
        line = await open_line(gateway, tenant, fake_twilio)
        await open_line(gateway, other, fake_twilio)
        contact = random_number()
        await line.text(contact, "STOP")
        # Then tenant B neither sees A's ledger nor is refused
        seen = await gateway.get(f"/v1/compliance/consents/{contact}", headers=other.headers)
        assert (seen.json()["status"], seen.json()["history"]) == ("unknown", [])
        await send(gateway, other, contact)
        [message] = await settled(gateway, other, 1)
        assert message["status"] == "delivered"


class TestKillSwitch:
    async def test_paused_messages_are_held_then_all_sent_on_resume(
        self, gateway, tenant, new_tenant, fake_twilio, dispatching
    ) -> None:
        # Given a tenant whose outbound is paused, and another one that is not
        line = await open_line(gateway, tenant, fake_twilio)
        bystander = await new_tenant()
        await open_line(gateway, bystander, fake_twilio)
        paused = await gateway.post("/v1/compliance/outbound/pause", headers=tenant.headers)
        assert paused.status_code == 200, paused.text
        assert paused.json()["outbound_paused"] is True
        # When it sends three messages, and a contact texts STOP meanwhile
        recipients = [random_number() for _ in range(3)]
        for to in recipients:
            await send(gateway, tenant, to)
        stopper = random_number()
        await line.text(stopper, "STOP")
        await send(gateway, bystander, random_number())
        # Then only the STOP confirmation (and the other tenant's message) goes out; the rest wait
        await settled(gateway, bystander, 1)
        await settled(gateway, tenant, 1)
        await asyncio.sleep(1.0)
        held = await messages(gateway, tenant, direction="outbound", origin="operator")
        assert [m["status"] for m in held] == ["queued"] * 3
        # When it resumes, then every held message is sent
        resumed = await gateway.post("/v1/compliance/outbound/resume", headers=tenant.headers)
        assert resumed.json()["outbound_paused"] is False
        outbound = await settled(gateway, tenant, 4)
        assert [m["status"] for m in outbound] == ["delivered"] * 4
        await fake_twilio.drain()
        assert {m["To"] for m in fake_twilio.messages} >= {*recipients, stopper}

    async def test_only_an_admin_key_pauses(self, gateway, tenant) -> None:
        issued = await gateway.post(
            f"/v1/tenants/{tenant.id}/api-keys",
            json={"name": "reader", "scopes": ["messages:read"]},
            headers=tenant.headers,
        )
        assert issued.status_code == 201, issued.text
        reader = {"Authorization": f"Bearer {issued.json()['api_key']}"}
        refused = await gateway.post("/v1/compliance/outbound/pause", headers=reader)
        assert 400 <= refused.status_code < 500
        assert (await gateway.get("/v1/compliance/settings", headers=reader)).status_code == 200


class TestCountriesAndBudget:
    async def test_a_destination_outside_the_allowed_countries_is_refused(
        self, gateway, tenant, fake_twilio, dispatching
    ) -> None:
        await open_line(gateway, tenant, fake_twilio)
        allowed = await gateway.patch(
            "/v1/compliance/settings",
            json={"allowed_countries": ["us", "CA"]},
            headers=tenant.headers,
        )
        assert allowed.json()["allowed_countries"] == ["CA", "US"]
        to_us = await send(gateway, tenant, US)
        to_france = await send(gateway, tenant, FRANCE)
        outbound = {m["id"]: m for m in await settled(gateway, tenant, 2)}
        assert outbound[to_us]["status"] == "delivered"
        assert (outbound[to_france]["status"], outbound[to_france]["error_code"]) == (
            "refused",
            "country_not_allowed",
        )

    async def test_unknown_countries_are_a_client_error(self, gateway, tenant) -> None:
        bad = await gateway.patch(
            "/v1/compliance/settings", json={"allowed_countries": ["XX"]}, headers=tenant.headers
        )
        assert bad.status_code == 400
        assert "XX" in bad.json()["error"]["message"]

    async def test_sends_past_the_daily_budget_are_refused(
        self, gateway, tenant, fake_twilio, dispatching
    ) -> None:
        await open_line(gateway, tenant, fake_twilio)
        budget = await gateway.patch(
            "/v1/compliance/settings", json={"daily_budget": 2}, headers=tenant.headers
        )
        assert budget.status_code == 200, budget.text
        for _ in range(3):
            await send(gateway, tenant, random_number())
        outbound = await settled(gateway, tenant, 3)
        outcome = sorted((m["status"], m["error_code"]) for m in outbound)
        assert outcome == [
            ("delivered", None),
            ("delivered", None),
            ("refused", "daily_budget_exceeded"),
        ]
        read = await gateway.get("/v1/compliance/settings", headers=tenant.headers)
        assert (read.json()["daily_budget"], read.json()["sent_today"]) == (2, 2)
