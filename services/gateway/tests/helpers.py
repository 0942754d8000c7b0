"""Small factories for gateway tests."""

from __future__ import annotations

import secrets

import httpx
from twilio.request_validator import RequestValidator

PUBLIC_URL = "http://127.0.0.1:8080"


def random_number() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


def account_sid() -> str:
    return "AC" + secrets.token_hex(16)


async def register_number(
    gateway: httpx.AsyncClient, headers: dict[str, str], sid: str, token: str
) -> str:
    number = random_number()
    response = await gateway.post(
        "/v1/numbers",
        json={"address": number, "twilio": {"account_sid": sid, "auth_token": token}},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return number


def signed(token: str, path: str, form: dict[str, str]) -> dict[str, str]:
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, form)
    return {"X-Twilio-Signature": signature}
