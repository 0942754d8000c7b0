"""Small factories for gateway tests."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from switchboard.common.db import Database
from switchboard.devstack.fake_twilio import FakeTwilio
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.crypto import CredentialCipher
from switchboard.gateway.numbers.service import SenderDirectory
from switchboard.gateway.outbound.dispatcher import Dispatcher
from switchboard.gateway.outbound.transports import Transport

PUBLIC_URL = "http://127.0.0.1:8080"
STATUS_PATH = "/v1/webhooks/twilio/status"


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


def new_dispatcher(db: Database, transport: Transport, **options: Any) -> Dispatcher:
    """A dispatcher as the worker builds one, with the test's transport and options (gates,
    pacer, retries...): credentials from the test environment, no sender cache."""
    settings = GatewaySettings()  # type: ignore[call-arg]  # credentials key from the environment
    cipher = CredentialCipher(settings.credentials_key.get_secret_value())
    return Dispatcher(
        db,
        transport,
        SenderDirectory(db, cipher, ttl=0),
        status_callback=PUBLIC_URL + STATUS_PATH,
        **options,
    )


async def tenant_with_number(
    gateway: httpx.AsyncClient, tenant: Any, fake: FakeTwilio
) -> tuple[str, str]:
    """A Twilio number of `tenant`, its account known to the fake: (number, auth token)."""
    sid, token = account_sid(), secrets.token_hex(16)
    fake.accounts[sid] = token
    number = await register_number(gateway, tenant.headers, sid, token)
    return number, token


async def wait_for_status(
    gateway: httpx.AsyncClient, tenant: Any, message_id: str, status: str
) -> dict[str, Any]:
    """The message (with its history) once it reached `status`."""
    body: dict[str, Any] = {}
    for _ in range(200):
        body = (await gateway.get(f"/v1/messages/{message_id}", headers=tenant.headers)).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"message stayed {body.get('status')!r}, expected {status!r}")
