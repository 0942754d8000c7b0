"""The dispatcher against a local fake Twilio: one send per key, retries, permanent failures."""

from __future__ import annotations

from switchboard.devstack.fake_twilio import INVALID_NUMBER

from ..helpers import STATUS_PATH, random_number, signed, tenant_with_number, wait_for_status


class TestDispatch:
    async def test_an_operator_message_is_sent_once_and_delivered(
        self, gateway, tenant, fake_twilio, dispatching
    ) -> None:
        # Given a tenant with a Twilio number
        number, _ = await tenant_with_number(gateway, tenant, fake_twilio)
        to = random_number()
        # When the operator sends the same message twice with one idempotency key
        request = {"to": to, "body": "Your order shipped", "idempotency_key": "order-42"}
        first = await gateway.post("/v1/messages", json=request, headers=tenant.headers)
        second = await gateway.post("/v1/messages", json=request, headers=tenant.headers)
        assert first.status_code == 202, first.text
        assert first.json()["id"] == second.json()["id"]
        # Then Twilio receives it exactly once, and the status callbacks make it delivered
        message = await wait_for_status(gateway, tenant, first.json()["id"], "delivered")
        await dispatching()
        sent = [m for m in fake_twilio.messages if m["To"] == to]
        assert [(m["From"], m["Body"]) for m in sent] == [(number, "Your order shipped")]
        assert message["provider_message_id"] == sent[0]["sid"]
        assert sorted(h["status"] for h in message["history"]) == ["delivered", "sent", "sent"]

    async def test_a_late_sent_never_overwrites_delivered(
        self, gateway, tenant, fake_twilio, dispatching
    ) -> None:
        _, token = await tenant_with_number(gateway, tenant, fake_twilio)
        created = await gateway.post(
            "/v1/messages", json={"to": random_number(), "body": "hi"}, headers=tenant.headers
        )
        message = await wait_for_status(gateway, tenant, created.json()["id"], "delivered")
        await dispatching()
        # When Twilio reports `sent` again, late
        form = {"MessageSid": message["provider_message_id"], "MessageStatus": "sent"}
        late = await gateway.post(STATUS_PATH, data=form, headers=signed(token, STATUS_PATH, form))
        assert late.status_code == 204
        # Then the message stays delivered, and the late report is in its history
        after = (await gateway.get(f"/v1/messages/{message['id']}", headers=tenant.headers)).json()
        assert after["status"] == "delivered"
        assert after["history"][-1]["status"] == "sent"

    async def test_an_invalid_number_fails_without_retry(
        self, gateway, tenant, fake_twilio, dispatching
    ) -> None:
        await tenant_with_number(gateway, tenant, fake_twilio)
        created = await gateway.post(
            "/v1/messages", json={"to": INVALID_NUMBER, "body": "hi"}, headers=tenant.headers
        )
        message = await wait_for_status(gateway, tenant, created.json()["id"], "failed")
        assert message["error_code"] == "21211"
        assert not [m for m in fake_twilio.messages if m["To"] == INVALID_NUMBER]

    async def test_a_provider_outage_is_retried(
        self, gateway, tenant, fake_twilio, dispatching
    ) -> None:
        await tenant_with_number(gateway, tenant, fake_twilio)
        fake_twilio.transient_failures = 2
        to = random_number()
        created = await gateway.post(
            "/v1/messages", json={"to": to, "body": "retry me"}, headers=tenant.headers
        )
        await wait_for_status(gateway, tenant, created.json()["id"], "delivered")
        assert len([m for m in fake_twilio.messages if m["To"] == to]) == 1

    async def test_a_forged_status_callback_is_refused(
        self, gateway, tenant, fake_twilio, dispatching
    ) -> None:
        await tenant_with_number(gateway, tenant, fake_twilio)
        created = await gateway.post(
            "/v1/messages", json={"to": random_number(), "body": "x"}, headers=tenant.headers
        )
        message = await wait_for_status(gateway, tenant, created.json()["id"], "delivered")
        form = {"MessageSid": message["provider_message_id"], "MessageStatus": "failed"}
        forged = await gateway.post(
            STATUS_PATH, data=form, headers=signed("nope", STATUS_PATH, form)
        )
        assert forged.status_code == 403
