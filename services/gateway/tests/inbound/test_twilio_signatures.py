"""Twilio's signature matrix: the URL Twilio called, its port variants, and trusted proxies."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from twilio.request_validator import RequestValidator

from switchboard.devstack.testkit import in_process
from switchboard.gateway.app import create_app
from switchboard.gateway.config import GatewaySettings

from ..helpers import account_sid, random_number, register_number

PATH = "/v1/webhooks/twilio/messages"


@pytest.fixture
async def behind_edge(platform_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway configured with the public URL `https://sms.example.com`, no trusted proxy."""
    settings = GatewaySettings(public_url="https://sms.example.com")  # type: ignore[call-arg]
    async with in_process(create_app(settings=settings), "gateway-edge") as client:
        yield client


@pytest.fixture
async def behind_proxy(platform_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway that trusts the proxy it is reached through (this test's client, 127.0.0.1)."""
    settings = GatewaySettings(trusted_proxies="127.0.0.1/32")  # type: ignore[call-arg]
    async with in_process(create_app(settings=settings), "gateway-proxied") as client:
        yield client


async def webhook(gateway, tenant) -> tuple[str, dict[str, str]]:
    token = secrets.token_hex(16)
    number = await register_number(gateway, tenant.headers, account_sid(), token)
    form = {"MessageSid": "SM" + secrets.token_hex(16), "From": random_number(), "To": number}
    form["Body"] = "hello"
    return token, form


def signature(token: str, url: str, form: dict[str, str]) -> str:
    return RequestValidator(token).compute_signature(url, form)


class TestPublicUrl:
    @pytest.mark.parametrize(
        ("signed_url", "expected"),
        [
            ("https://sms.example.com" + PATH, 200),
            ("https://sms.example.com:443" + PATH, 200),  # Twilio may sign with the port
            ("http://sms.example.com" + PATH, 403),  # scheme differs
            ("https://sms.example.com" + PATH + "?x=1", 403),  # a query it was not called with
            ("https://other.example.com" + PATH, 403),
            ("http://127.0.0.1:8080" + PATH, 403),  # the address it listens on is not public
        ],
    )
    async def test_the_configured_public_url_is_what_must_be_signed(
        self, gateway, behind_edge, tenant, signed_url: str, expected: int
    ) -> None:
        token, form = await webhook(gateway, tenant)
        headers = {"X-Twilio-Signature": signature(token, signed_url, form)}
        response = await behind_edge.post(PATH, data=form, headers=headers)
        assert response.status_code == expected, response.text

    async def test_the_query_string_is_part_of_the_signed_url(
        self, gateway, behind_edge, tenant
    ) -> None:
        token, form = await webhook(gateway, tenant)
        url = "https://sms.example.com" + PATH + "?source=primary"
        headers = {"X-Twilio-Signature": signature(token, url, form)}
        response = await behind_edge.post(PATH + "?source=primary", data=form, headers=headers)
        assert response.status_code == 200, response.text

    async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
        self, gateway, behind_edge, tenant
    ) -> None:
        # Given a caller that claims, through X-Forwarded-*, to have called another host
        token, form = await webhook(gateway, tenant)
        headers = {
            "X-Twilio-Signature": signature(token, "https://attacker.example" + PATH, form),
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "attacker.example",
        }
        # Then the gateway still checks against its configured URL, and refuses
        response = await behind_edge.post(PATH, data=form, headers=headers)
        assert response.status_code == 403


class TestTrustedProxy:
    @pytest.mark.parametrize(
        ("forwarded", "signed_url"),
        [
            ({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "edge.example.com"},
             "https://edge.example.com" + PATH),
            ({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "edge.example.com",
              "X-Forwarded-Port": "8443"},
             "https://edge.example.com:8443" + PATH),
            ({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "edge.example.com",
              "X-Forwarded-Port": "443"},
             "https://edge.example.com" + PATH),
            # A chain of proxies: the first one faced Twilio.
            ({"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "edge.example.com, lb"},
             "https://edge.example.com" + PATH),
        ],
    )  # fmt: skip
    async def test_a_trusted_proxy_names_the_url_twilio_called(
        self, gateway, behind_proxy, tenant, forwarded: dict[str, str], signed_url: str
    ) -> None:
        token, form = await webhook(gateway, tenant)
        headers = {"X-Twilio-Signature": signature(token, signed_url, form), **forwarded}
        response = await behind_proxy.post(PATH, data=form, headers=headers)
        assert response.status_code == 200, response.text

    async def test_a_forged_signature_behind_a_trusted_proxy_is_refused(
        self, gateway, behind_proxy, tenant
    ) -> None:
        _, form = await webhook(gateway, tenant)
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "edge.example.com"}
        headers = {
            "X-Twilio-Signature": signature("x" * 32, "https://edge.example.com" + PATH, form)
        }
        response = await behind_proxy.post(PATH, data=form, headers=headers | forwarded)
        assert response.status_code == 403
