"""Inbound Twilio webhooks: signed, durable before 2xx, deduplicated by MessageSid."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl

import httpx
import pytest
from twilio.request_validator import RequestValidator

from switchboard.gateway.inbound import twilio

ACCOUNT_SID = "AC" + "0" * 32
PUBLIC_URL = "http://127.0.0.1:8080"


def random_number() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


async def register_number(gateway: httpx.AsyncClient, headers: dict[str, str], token: str) -> str:
    number = random_number()
    response = await gateway.post(
        "/v1/numbers",
        json={"address": number, "twilio": {"account_sid": ACCOUNT_SID, "auth_token": token}},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert "auth_token" not in response.text
    return number


def signed(token: str, path: str, form: dict[str, str]) -> dict[str, str]:
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, form)
    return {"X-Twilio-Signature": signature}


class TestTwilioInbound:
    async def test_a_signed_message_is_accepted_once(self, gateway, tenant) -> None:
        # Given a tenant's number
        token = secrets.token_hex(16)
        number = await register_number(gateway, tenant.headers, token)
        form = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "From": random_number(),
            "To": number,
            "Body": "hello",
            "AccountSid": ACCOUNT_SID,
            "NumMedia": "0",
        }
        path = "/v1/webhooks/twilio/messages"
        # When Twilio posts the same message twice
        first = await gateway.post(path, data=form, headers=signed(token, path, form))
        second = await gateway.post(path, data=form, headers=signed(token, path, form))
        # Then both are acknowledged with TwiML, and the message is stored once
        assert first.status_code == 200, first.text
        assert second.status_code == 200
        assert first.headers["content-type"].startswith("text/xml")
        messages = (await gateway.get("/v1/messages", headers=tenant.headers)).json()
        assert [m["body"] for m in messages if m["direction"] == "inbound"] == ["hello"]

    async def test_a_forged_signature_is_refused(self, gateway, tenant) -> None:
        token = secrets.token_hex(16)
        number = await register_number(gateway, tenant.headers, token)
        form = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "From": random_number(),
            "To": number,
            "Body": "hi",
        }
        path = "/v1/webhooks/twilio/messages"
        forged = await gateway.post(path, data=form, headers=signed("not-the-token", path, form))
        missing = await gateway.post(path, data=form)
        assert forged.status_code == 403
        assert missing.status_code == 403
        messages = (await gateway.get("/v1/messages", headers=tenant.headers)).json()
        assert messages == []

    async def test_an_unknown_number_is_not_found(self, gateway) -> None:
        form = {"MessageSid": "SM1", "From": random_number(), "To": random_number(), "Body": "x"}
        response = await gateway.post("/v1/webhooks/twilio/messages", data=form)
        assert response.status_code == 404

    async def test_a_malformed_body_is_a_client_error(self, gateway) -> None:
        response = await gateway.post("/v1/webhooks/twilio/messages", data={"Body": "x"})
        assert response.status_code == 400
        assert "MessageSid" in response.json()["error"]["message"]

    async def test_a_body_with_form_syntax_in_it_arrives_intact(self, gateway, tenant) -> None:
        # Given a tenant's number, and a message full of characters form encoding escapes
        token = secrets.token_hex(16)
        number = await register_number(gateway, tenant.headers, token)
        text = "a+b = 100% & more?\n¿Qué tal? 👋 ~!*'();:@$,/#[]"
        form = {"MessageSid": "SM" + secrets.token_hex(16), "From": random_number()}
        form |= {"To": number, "Body": text}
        path = "/v1/webhooks/twilio/messages"
        # When Twilio posts it
        response = await gateway.post(path, data=form, headers=signed(token, path, form))
        # Then the signature matches and the stored body is exactly what the contact wrote
        assert response.status_code == 200, response.text
        messages = (await gateway.get("/v1/messages", headers=tenant.headers)).json()
        assert [m["body"] for m in messages] == [text]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"A=1&B=2",
        b"A=&B",
        b"&&A=1&",
        b"Body=a%2Bb+c%26d%3De&To=%2B15550001234",
        b"Na%6De=x&Body=%E2%9C%93+ok",
        b"Body=100%&X=%zz",
        b"Body=%F0%9F%91%8B+%C2%BF",
        b"K=v=w",
    ],
)
def test_the_form_reads_as_the_standard_library_reads_it(body: bytes) -> None:
    expected = dict(parse_qsl(body.decode(), keep_blank_values=True))
    assert twilio.parse_form(body) == expected
