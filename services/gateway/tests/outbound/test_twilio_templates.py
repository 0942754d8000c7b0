"""WhatsApp templates from a Twilio number: sent as a Content SID, allowed outside the window."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator

import pytest

from switchboard.common.db import Database
from switchboard.common.settings import PlatformSettings
from switchboard.devstack.fake_twilio import FakeTwilio
from switchboard.devstack.testkit import Serve
from switchboard.gateway.outbound.transports import TwilioTransport
from switchboard.gateway.outbound.whatsapp_window import WhatsAppWindow

from ..helpers import account_sid, new_dispatcher, random_number, wait_for_status

CONTENT_SID = "HX" + "ab" * 16


@pytest.fixture
async def windowed(
    serve: Serve, platform_env: dict[str, str], fake_twilio: FakeTwilio
) -> AsyncIterator[None]:
    """A dispatcher with the 24-hour window, sending to a fake Twilio while the test runs."""
    db = Database(PlatformSettings().database_url, pool_size=4)
    transport = TwilioTransport(await serve(fake_twilio.app()))
    dispatcher = new_dispatcher(db, transport, gates=(WhatsAppWindow(db),), max_attempts=2)
    task = asyncio.create_task(dispatcher.run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await transport.close()
    await db.dispose()


async def whatsapp_number(gateway, tenant, fake: FakeTwilio) -> str:
    sid, token = account_sid(), secrets.token_hex(16)
    fake.accounts[sid] = token
    number = random_number()
    response = await gateway.post(
        "/v1/numbers",
        json={
            "address": number,
            "channel": "whatsapp",
            "twilio": {"account_sid": sid, "auth_token": token},
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return number


async def send(gateway, tenant, to: str, **fields: object) -> str:
    body = {"to": to, "channel": "whatsapp", **fields}
    response = await gateway.post("/v1/messages", json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


class TestTwilioTemplates:
    async def test_a_template_reaches_a_contact_outside_the_window(
        self, gateway, tenant, fake_twilio, windowed
    ) -> None:
        # Given a Twilio WhatsApp number and a contact who never wrote to it
        number = await whatsapp_number(gateway, tenant, fake_twilio)
        contact = random_number()
        # When the tenant sends a free-form message, then a template with its Content SID
        free = await send(gateway, tenant, contact, body="Hello!")
        template = {"name": "order_update", "language": "en_US", "parameters": ["42", "Friday"]}
        templated = await send(
            gateway, tenant, contact, template={**template, "content_sid": CONTENT_SID}
        )
        # Then the free-form one is refused by the window, and the template goes out as Twilio
        # sends templates: its Content SID and numbered variables, no body
        refused = await wait_for_status(gateway, tenant, free, "refused")
        assert refused["error_code"] == "whatsapp_window_closed"
        await wait_for_status(gateway, tenant, templated, "delivered")
        [sent] = [m for m in fake_twilio.messages if m["To"] == f"whatsapp:{contact}"]
        assert sent["From"] == f"whatsapp:{number}"
        assert sent["ContentSid"] == CONTENT_SID
        assert json.loads(sent["ContentVariables"]) == {"1": "42", "2": "Friday"}
        assert "Body" not in sent

    async def test_a_template_without_its_content_sid_fails_with_the_reason(
        self, gateway, tenant, fake_twilio, windowed
    ) -> None:
        await whatsapp_number(gateway, tenant, fake_twilio)
        contact = random_number()
        message = await send(
            gateway, tenant, contact, template={"name": "order_update", "language": "en_US"}
        )
        failed = await wait_for_status(gateway, tenant, message, "failed")
        assert failed["error_code"] == "template_unsupported"
        assert not [m for m in fake_twilio.messages if m["To"] == f"whatsapp:{contact}"]

    async def test_a_malformed_content_sid_is_a_client_error(self, gateway, tenant) -> None:
        template = {"name": "order_update", "language": "en_US", "content_sid": "HX123"}
        body = {"to": random_number(), "channel": "whatsapp", "template": template}
        response = await gateway.post("/v1/messages", json=body, headers=tenant.headers)
        assert response.status_code == 422
