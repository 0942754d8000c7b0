"""Helpers of the compliance tests: an event log, a tenant's line, message queries."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from switchboard.devstack.fake_twilio import FakeTwilio

from ..helpers import account_sid, register_number, signed

INBOUND_PATH = "/v1/webhooks/twilio/messages"


@dataclass
class Line:
    """A tenant's Twilio number, and a way to text it as a contact would (signed webhooks)."""

    gateway: httpx.AsyncClient
    number: str
    token: str

    async def text(self, sender: str, body: str, sid: str | None = None) -> httpx.Response:
        form = {"MessageSid": sid or "SM" + secrets.token_hex(16), "From": sender}
        form |= {"To": self.number, "Body": body, "NumMedia": "0"}
        headers = signed(self.token, INBOUND_PATH, form)
        response = await self.gateway.post(INBOUND_PATH, data=form, headers=headers)
        assert response.status_code == 200, response.text
        return response


async def open_line(
    gateway: httpx.AsyncClient, tenant: Any, fake: FakeTwilio | None = None
) -> Line:
    sid, token = account_sid(), secrets.token_hex(16)
    if fake is not None:
        fake.accounts[sid] = token
    number = await register_number(gateway, tenant.headers, sid, token)
    return Line(gateway, number, token)


async def messages(gateway: httpx.AsyncClient, tenant: Any, **match: Any) -> list[dict[str, Any]]:
    """The tenant's messages (newest first) whose fields equal `match`."""
    response = await gateway.get("/v1/messages", params={"limit": 500}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [m for m in response.json() if all(m.get(k) == v for k, v in match.items())]
