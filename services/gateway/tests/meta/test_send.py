"""Sending through Meta's Graph API, and WhatsApp's 24-hour window (with a controlled clock)."""

from __future__ import annotations

from datetime import timedelta

from switchboard.contracts import MessageStatusChanged, Topic
from switchboard.devstack import fake_meta as meta
from switchboard.devstack.fake_meta import FakeMeta

from ..helpers import random_number, wait_for_status
from .conftest import Clock, events_of, register_meta_number

TEMPLATE = {"name": "order_update", "language": "en_US", "parameters": ["Ada", "#42"]}


async def send(gateway, tenant, to: str, **fields) -> str:
    created = await gateway.post(
        "/v1/messages", json={"to": to, "channel": "whatsapp", **fields}, headers=tenant.headers
    )
    assert created.status_code == 202, created.text
    return created.json()["id"]


class TestGraphApi:
    async def test_text_and_template_reach_meta_with_the_numbers_token(
        self, gateway, tenant, dispatching: FakeMeta
    ) -> None:
        # Given a Meta number, and a contact who wrote to it
        number = await register_meta_number(gateway, tenant, dispatching)
        contact = random_number()
        await dispatching.post(number, messages=[meta.text(contact, "hi")])
        # When the operator sends a text and a template
        text_id = await send(gateway, tenant, contact, body="Your order shipped")
        template_id = await send(gateway, tenant, contact, template=TEMPLATE)
        text = await wait_for_status(gateway, tenant, text_id, "sent")
        template = await wait_for_status(gateway, tenant, template_id, "sent")
        # Then Meta receives both on the number's endpoint, with its token, in Graph API JSON
        by_wamid = {r["wamid"]: r for r in dispatching.requests}
        sent_text = by_wamid[text["provider_message_id"]]
        sent_template = by_wamid[template["provider_message_id"]]
        for request in (sent_text, sent_template):
            assert request["phone_number_id"] == number.phone_number_id
            assert request["authorization"] == f"Bearer {number.access_token}"
        assert sent_text["json"] == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": contact.lstrip("+"),
            "biz_opaque_callback_data": text_id,
            "type": "text",
            "text": {"preview_url": False, "body": "Your order shipped"},
        }
        assert sent_template["json"]["type"] == "template"
        assert sent_template["json"]["template"] == {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ada"},
                        {"type": "text", "text": "#42"},
                    ],
                }
            ],
        }
        assert template["template"]["name"] == "order_update"

    async def test_status_webhooks_from_meta_deliver_the_message(
        self, gateway, tenant, dispatching: FakeMeta
    ) -> None:
        number = await register_meta_number(gateway, tenant, dispatching)
        contact = random_number()
        await dispatching.post(number, messages=[meta.text(contact, "hi")])
        dispatching.callbacks = True
        message_id = await send(gateway, tenant, contact, body="tracked")
        await wait_for_status(gateway, tenant, message_id, "delivered")

    async def test_meta_errors_are_permanent_or_retried(
        self, gateway, tenant, dispatching: FakeMeta
    ) -> None:
        # Given a contact inside the window
        number = await register_meta_number(gateway, tenant, dispatching)
        contact = random_number()
        await dispatching.post(number, messages=[meta.text(contact, "hi")])
        # When Meta says the message is undeliverable, or a template's parameters mismatch
        for code in (131026, 132000):
            dispatching.failures.append((400, code, "refused"))
            failed = await wait_for_status(
                gateway, tenant, await send(gateway, tenant, contact, body=f"x{code}"), "failed"
            )
            # Then the message fails at once with Meta's code
            assert failed["error_code"] == str(code)
        # When Meta is rate limiting, or down, for a while
        dispatching.failures += [(429, 130429, "throughput"), (500, 131016, "unavailable")]
        retried = await send(gateway, tenant, contact, body="patience")
        # Then the message is retried until Meta takes it
        await wait_for_status(gateway, tenant, retried, "sent")
        assert not dispatching.failures

    async def test_a_template_on_sms_is_a_client_error(self, gateway, tenant) -> None:
        response = await gateway.post(
            "/v1/messages",
            json={"to": random_number(), "template": TEMPLATE},
            headers=tenant.headers,
        )
        assert response.status_code == 422


class TestWindow:
    async def test_free_form_only_within_24_hours_of_the_contacts_message(
        self, gateway, tenant, dispatching: FakeMeta, clock: Clock, event_log
    ) -> None:
        # Given a contact who wrote to the tenant's WhatsApp number just now
        number = await register_meta_number(gateway, tenant, dispatching)
        contact = random_number()
        await dispatching.post(number, messages=[meta.text(contact, "hello")])
        # When the operator answers 23 hours later
        clock.offset = timedelta(hours=23)
        inside = await send(gateway, tenant, contact, body="still here")
        # Then it is sent
        await wait_for_status(gateway, tenant, inside, "sent")
        # When 25 hours have passed, a free-form message is refused before reaching Meta
        clock.offset = timedelta(hours=25)
        outside = await send(gateway, tenant, contact, body="too late")
        refused = await wait_for_status(gateway, tenant, outside, "refused")
        assert refused["error_code"] == "whatsapp_window_closed"
        assert [
            r for r in dispatching.requests if r["json"].get("text", {}).get("body") == "too late"
        ] == []

        # And the refusal is published as a status change
        def refusals_of(events: list) -> list:
            return [
                e.data
                for e in events
                if isinstance(e, MessageStatusChanged) and str(e.data.message_id) == outside
            ]

        events = await events_of(
            event_log, Topic.MESSAGES_STATUS, tenant.id, until=lambda f: bool(refusals_of(f))
        )
        refusals = refusals_of(events)
        assert [(r.status, r.error_code) for r in refusals] == [
            ("refused", "whatsapp_window_closed")
        ]
        # While a template outside the window is sent
        template = await send(gateway, tenant, contact, template=TEMPLATE)
        await wait_for_status(gateway, tenant, template, "sent")

    async def test_a_contact_who_never_wrote_gets_templates_only(
        self, gateway, tenant, dispatching: FakeMeta
    ) -> None:
        await register_meta_number(gateway, tenant, dispatching)
        stranger = random_number()
        refused = await send(gateway, tenant, stranger, body="hello?")
        await wait_for_status(gateway, tenant, refused, "refused")
        template = await send(gateway, tenant, stranger, template=TEMPLATE)
        await wait_for_status(gateway, tenant, template, "sent")

    async def test_the_window_is_per_number_of_the_tenant(
        self, gateway, new_tenant, dispatching: FakeMeta
    ) -> None:
        # Given a contact who wrote to tenant A's number
        alice, bob = await new_tenant(), await new_tenant()
        a_number = await register_meta_number(gateway, alice, dispatching)
        await register_meta_number(gateway, bob, dispatching)
        contact = random_number()
        await dispatching.post(a_number, messages=[meta.text(contact, "hi alice")])
        # When tenant B sends free-form to the same contact
        message = await send(gateway, bob, contact, body="hi from bob")
        # Then B's message is refused: A's conversation opens no window for B
        await wait_for_status(gateway, bob, message, "refused")
