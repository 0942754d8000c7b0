"""SSRF: webhook URLs must be https and public, checked at registration and at every attempt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest

from switchboard.contracts import MessageReceived, MessageReceivedData
from switchboard.devstack.testkit import eventually, in_process
from switchboard.gateway.app import create_app
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.partners.targets import TargetPolicy

from ..helpers import random_number
from .support import register

REFUSED_URLS = [
    "http://93.184.216.34/hook",  # plain http
    "ftp://93.184.216.34/hook",
    "https://user:secret@93.184.216.34/hook",  # credentials in the URL
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://localhost/hook",
    "https://0.0.0.0/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.10/hook",
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://100.64.0.1/hook",  # carrier-grade NAT
    "https://100.100.100.200/hook",  # metadata in CGNAT space
    "https://224.0.0.1/hook",  # multicast
    "https://255.255.255.255/hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "https://[::ffff:169.254.169.254]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[fe80::1]/hook",  # link-local
    "https://[fc00::1]/hook",  # unique local
    "https://[fd00:ec2::254]/hook",  # metadata over IPv6
    "https://[ff02::1]/hook",  # multicast
    "https://[2002:7f00:1::]/hook",  # 6to4 wrapping 127.0.0.1
]


@pytest.fixture(scope="module")
async def strict_gateway(platform_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway as deployed by default: private targets and plain http refused."""
    settings = GatewaySettings(webhook_allow_private_targets=False, webhook_allow_http=False)  # type: ignore[call-arg]
    async with in_process(create_app(settings), "gateway-strict") as client:
        yield client


class TestRegistration:
    @pytest.mark.parametrize("url", REFUSED_URLS)
    async def test_a_non_public_or_insecure_url_is_refused(
        self, strict_gateway, tenant, url: str
    ) -> None:
        response = await strict_gateway.post(
            "/v1/webhooks/endpoints",
            json={"url": url, "event_types": ["message.received"]},
            headers=tenant.headers,
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "webhook_target_refused"

    async def test_a_public_https_url_is_accepted(self, strict_gateway, tenant) -> None:
        # A literal address: tests never resolve external names
        created = await register(strict_gateway, tenant.headers, "https://93.184.216.34/hook")
        assert created["url"] == "https://93.184.216.34/hook"

    async def test_an_update_to_a_private_url_is_refused(self, strict_gateway, tenant) -> None:
        created = await register(strict_gateway, tenant.headers, "https://93.184.216.34/hook")
        response = await strict_gateway.patch(
            f"/v1/webhooks/endpoints/{created['id']}",
            json={"url": "https://[::ffff:127.0.0.1]/hook"},
            headers=tenant.headers,
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "webhook_target_refused"


class TestAttempt:
    async def test_a_private_address_is_refused_when_sending(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        # Given an endpoint on 127.0.0.1, registered while the deployment allowed it
        path = f"/hooks/{uuid4()}"
        endpoint = await register(gateway, tenant.headers, receiver.url(path))
        # When the delivery loop runs with private targets refused
        sending(policy=TargetPolicy(allow_private=False, allow_http=True))
        data = MessageReceivedData(
            message_id=uuid4(),
            channel="sms",
            provider="twilio",
            provider_message_id="SM" + uuid4().hex,
            from_address=random_number(),
            to_address=random_number(),
            body="hello",
            received_at=datetime.now(UTC),
        )
        await publish(MessageReceived.create(tenant.id, data))

        # Then the attempt is logged as refused, and nothing reaches the address
        async def refused() -> bool:
            response = await gateway.get(
                f"/v1/webhooks/endpoints/{endpoint['id']}/attempts", headers=tenant.headers
            )
            return bool(response.json())

        await eventually(refused, within=40)
        attempts = await gateway.get(
            f"/v1/webhooks/endpoints/{endpoint['id']}/attempts", headers=tenant.headers
        )
        first = attempts.json()[-1]
        assert first["succeeded"] is False
        assert first["status_code"] is None
        assert first["error"].startswith("refused:")
        assert "127.0.0.1" in first["error"]
        assert receiver.at(path) == []
