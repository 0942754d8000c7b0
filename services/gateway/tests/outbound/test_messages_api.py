"""Operators' messages API: filters, segment counts at queue time, tenant isolation."""

from __future__ import annotations

import secrets

from ..helpers import account_sid, random_number, register_number, signed

WEBHOOK = "/v1/webhooks/twilio/messages"


async def setup_traffic(gateway, tenant) -> dict[str, str]:
    """A number, two operator sends to two contacts, and one message in from the first contact."""
    token = secrets.token_hex(16)
    number = await register_number(gateway, tenant.headers, account_sid(), token)
    alice, bob = random_number(), random_number()
    for to, body in ((alice, "hello alice"), (bob, "b" * 161)):
        sent = await gateway.post(
            "/v1/messages", json={"to": to, "body": body}, headers=tenant.headers
        )
        assert sent.status_code == 202, sent.text
    form = {"MessageSid": "SM" + secrets.token_hex(16), "From": alice, "To": number}
    form["Body"] = "hi back"
    received = await gateway.post(WEBHOOK, data=form, headers=signed(token, WEBHOOK, form))
    assert received.status_code == 200, received.text
    return {"alice": alice, "bob": bob}


async def bodies(gateway, tenant, **params: str) -> list[str]:
    response = await gateway.get("/v1/messages", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [m["body"] for m in response.json()]


class TestMessagesList:
    async def test_filters_narrow_the_list(self, gateway, tenant) -> None:
        # Given a tenant with two sends and one inbound message
        contacts = await setup_traffic(gateway, tenant)
        # Then each filter returns just what it names, newest first
        assert await bodies(gateway, tenant) == ["hi back", "b" * 161, "hello alice"]
        assert await bodies(gateway, tenant, direction="inbound") == ["hi back"]
        assert await bodies(gateway, tenant, direction="outbound") == ["b" * 161, "hello alice"]
        assert await bodies(gateway, tenant, contact=contacts["alice"]) == [
            "hi back",
            "hello alice",
        ]
        assert await bodies(gateway, tenant, status="received") == ["hi back"]
        assert await bodies(gateway, tenant, status="queued", contact=contacts["bob"]) == [
            "b" * 161
        ]
        assert await bodies(gateway, tenant, origin="operator") == ["b" * 161, "hello alice"]
        assert await bodies(gateway, tenant, channel="whatsapp") == []
        assert await bodies(gateway, tenant, limit="1") == ["hi back"]

    async def test_segments_are_counted_when_a_message_is_queued(self, gateway, tenant) -> None:
        contacts = await setup_traffic(gateway, tenant)
        response = await gateway.get(
            "/v1/messages", params={"contact": contacts["bob"]}, headers=tenant.headers
        )
        assert [m["segments"] for m in response.json()] == [2]

    async def test_bad_filters_are_client_errors(self, gateway, tenant) -> None:
        for params in ({"contact": "not a number"}, {"direction": "sideways"}, {"limit": "0"}):
            response = await gateway.get("/v1/messages", params=params, headers=tenant.headers)
            assert response.status_code in (400, 422), (params, response.text)

    async def test_another_tenants_messages_are_invisible(
        self, gateway, tenant, new_tenant
    ) -> None:
        contacts = await setup_traffic(gateway, tenant)
        other = await new_tenant()
        assert await bodies(gateway, other) == []
        assert await bodies(gateway, other, contact=contacts["alice"]) == []
