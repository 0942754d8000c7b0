"""Partner webhooks end to end: events on the broker reach a local receiver, signed and retried."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import httpx
from standardwebhooks import Webhook
from starlette.responses import Response

from switchboard.contracts import (
    BudgetThresholdData,
    BudgetThresholdReached,
    ConsentData,
    ConsentOptedOut,
    MessageReceived,
    MessageReceivedData,
)
from switchboard.devstack.testkit import eventually

from ..helpers import random_number
from .support import Receiver, register

FIRST_DELIVERY = 40.0  # the consumer group may still be joining when the first test runs


def message_received(tenant_id: UUID, body: str = "Hi! Is my order on its way?") -> MessageReceived:
    data = MessageReceivedData(
        message_id=uuid4(),
        channel="sms",
        provider="twilio",
        provider_message_id="SM" + secrets.token_hex(16),
        from_address=random_number(),
        to_address=random_number(),
        body=body,
        received_at=datetime.now(UTC),
    )
    return MessageReceived.create(tenant_id, data)


def opted_out(tenant_id: UUID) -> ConsentOptedOut:
    data = ConsentData(address=random_number(), channel="sms", source="keyword", keyword="STOP")
    return ConsentOptedOut.create(tenant_id, data)


def hook_path() -> str:
    return f"/hooks/{uuid4()}"


async def received_at(receiver: Receiver, path: str, count: int = 1, within: float = 15.0) -> None:
    async def arrived() -> bool:
        return len(receiver.at(path)) >= count

    await eventually(arrived, within=within)


async def attempts(gateway: httpx.AsyncClient, tenant, endpoint_id: object) -> list[dict]:
    response = await gateway.get(
        f"/v1/webhooks/endpoints/{endpoint_id}/attempts", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return list(reversed(response.json()))


class TestRegistration:
    async def test_the_secret_is_shown_once(self, gateway, tenant, receiver) -> None:
        # When a tenant registers an endpoint
        created = await register(gateway, tenant.headers, receiver.url(hook_path()))
        # Then the answer carries a Standard Webhooks secret, and reading it back never does
        assert str(created["secret"]).startswith("whsec_")
        read = await gateway.get(f"/v1/webhooks/endpoints/{created['id']}", headers=tenant.headers)
        listed = await gateway.get("/v1/webhooks/endpoints", headers=tenant.headers)
        assert read.status_code == 200
        assert "secret" not in read.json()
        assert [e["id"] for e in listed.json()] == [created["id"]]
        assert all("secret" not in e for e in listed.json())

    async def test_update_and_delete(self, gateway, tenant, receiver) -> None:
        created = await register(gateway, tenant.headers, receiver.url(hook_path()))
        path = f"/v1/webhooks/endpoints/{created['id']}"
        # When the event types and the state change
        changed = await gateway.patch(
            path,
            json={"event_types": ["consent.opted_out", "consent.opted_in"], "enabled": False},
            headers=tenant.headers,
        )
        # Then they are kept, and a deleted endpoint is gone
        assert changed.status_code == 200, changed.text
        assert changed.json()["event_types"] == ["consent.opted_in", "consent.opted_out"]
        assert changed.json()["enabled"] is False
        assert (await gateway.delete(path, headers=tenant.headers)).status_code == 204
        assert (await gateway.get(path, headers=tenant.headers)).status_code == 404

    async def test_unknown_event_types_are_refused(self, gateway, tenant, receiver) -> None:
        response = await gateway.post(
            "/v1/webhooks/endpoints",
            json={"url": receiver.url(hook_path()), "event_types": ["message.exploded"]},
            headers=tenant.headers,
        )
        assert response.status_code == 422

    async def test_another_tenants_endpoint_is_not_found(
        self, gateway, tenant, new_tenant, receiver
    ) -> None:
        # Given an endpoint of another tenant
        other = await new_tenant()
        theirs = await register(gateway, other.headers, receiver.url(hook_path()))
        path = f"/v1/webhooks/endpoints/{theirs['id']}"
        # Then every way of touching it is a 404 for this tenant
        assert (await gateway.get(path, headers=tenant.headers)).status_code == 404
        patched = await gateway.patch(path, json={"enabled": False}, headers=tenant.headers)
        assert patched.status_code == 404
        assert (await gateway.delete(path, headers=tenant.headers)).status_code == 404
        assert (await gateway.get(path + "/attempts", headers=tenant.headers)).status_code == 404
        rotate = await gateway.post(path + "/rotate-secret", headers=tenant.headers)
        assert rotate.status_code == 404
        assert (await gateway.get("/v1/webhooks/endpoints", headers=tenant.headers)).json() == []

    async def test_a_key_without_tenant_admin_is_refused(self, gateway, tenant, receiver) -> None:
        # Given a key that may only read messages
        key = await gateway.post(
            f"/v1/tenants/{tenant.id}/api-keys",
            json={"name": "reader", "scopes": ["messages:read"]},
            headers=tenant.headers,
        )
        assert key.status_code == 201, key.text
        reader = {"Authorization": f"Bearer {key.json()['api_key']}"}
        # Then it can neither list nor register endpoints
        assert (await gateway.get("/v1/webhooks/endpoints", headers=reader)).status_code == 403
        created = await gateway.post(
            "/v1/webhooks/endpoints",
            json={"url": receiver.url(hook_path()), "event_types": ["message.received"]},
            headers=reader,
        )
        assert created.status_code == 403


class TestDelivery:
    async def test_events_reach_subscribed_endpoints_signed(
        self, gateway, tenant, new_tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        # Given one endpoint for received messages and one for opt-outs
        sending()
        messages_path, consent_path = hook_path(), hook_path()
        messages = await register(
            gateway, tenant.headers, receiver.url(messages_path), "message.received"
        )
        consent = await register(
            gateway, tenant.headers, receiver.url(consent_path), "consent.opted_out"
        )
        # When a message arrives and a contact opts out (and another tenant gets a message)
        inbound = message_received(tenant.id)
        stranger = await new_tenant()
        await register(gateway, stranger.headers, receiver.url(messages_path), "message.received")
        await publish(inbound)
        await publish(opted_out(tenant.id))
        # Then each endpoint gets only its event type, signed with its own secret
        await received_at(receiver, messages_path, within=FIRST_DELIVERY)
        await received_at(receiver, consent_path)
        [got] = receiver.at(messages_path)
        body = Webhook(str(messages["secret"])).verify(got.body, got.headers)
        assert body["type"] == "message.received"
        assert body["data"]["message_id"] == str(inbound.data.message_id)
        assert body["data"]["body"] == inbound.data.body
        assert datetime.fromisoformat(body["timestamp"]) == inbound.occurred_at
        [opt_out] = receiver.at(consent_path)
        assert Webhook(str(consent["secret"])).verify(opt_out.body, opt_out.headers)["type"] == (
            "consent.opted_out"
        )
        # And the delivery is recorded as succeeded (once the attempt is written), its id being
        # the webhook-id
        path = f"/v1/webhooks/endpoints/{messages['id']}/deliveries"

        async def succeeded() -> bool:
            deliveries = (await gateway.get(path, headers=tenant.headers)).json()
            return [(d["id"], d["status"]) for d in deliveries] == [
                (got.headers["webhook-id"], "succeeded")
            ]

        await eventually(succeeded)

    async def test_a_budget_threshold_reaches_a_subscribed_endpoint(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        sending()
        path = hook_path()
        endpoint = await register(
            gateway, tenant.headers, receiver.url(path), "billing.budget_threshold_reached"
        )
        data = BudgetThresholdData(
            month="2026-11", threshold_percent=80, budget=Decimal("100"), spent=Decimal("80.5")
        )
        await publish(BudgetThresholdReached.create(tenant.id, data))
        await received_at(receiver, path, within=FIRST_DELIVERY)
        [got] = receiver.at(path)
        body = Webhook(str(endpoint["secret"])).verify(got.body, got.headers)
        assert body["type"] == "billing.budget_threshold_reached"
        assert (body["data"]["threshold_percent"], body["data"]["spent"]) == (80, "80.5")

    async def test_a_named_host_is_reached_at_its_checked_address_under_its_name(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        # Given an endpoint named by host name rather than address
        sending()
        path = hook_path()
        await register(gateway, tenant.headers, f"http://localhost:{receiver.port}{path}")
        # When a message arrives
        await publish(message_received(tenant.id))
        # Then the request reached the address `localhost` resolved to, still under its name
        await received_at(receiver, path, within=FIRST_DELIVERY)
        assert receiver.at(path)[0].headers["host"] == f"localhost:{receiver.port}"

    async def test_a_failing_receiver_is_retried_on_schedule_until_it_recovers(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        # Given an endpoint that fails twice and then recovers
        sending()
        path = hook_path()
        endpoint = await register(gateway, tenant.headers, receiver.url(path))
        receiver.script(path, Response("down", 500), Response("still down", 503))
        # When a message arrives
        await publish(message_received(tenant.id))
        # Then it is tried three times, the retries spaced by the schedule (0.2 s in tests)
        await received_at(receiver, path, 3, within=FIRST_DELIVERY)
        got = receiver.at(path)
        assert len({r.headers["webhook-id"] for r in got}) == 1
        assert got[1].at - got[0].at >= 0.19
        assert got[2].at - got[1].at >= 0.19

        # And every attempt is in the log, with status, latency and the response's excerpt
        async def logged() -> bool:
            return len(await attempts(gateway, tenant, endpoint["id"])) == 3

        await eventually(logged)
        log = await attempts(gateway, tenant, endpoint["id"])
        assert [(a["status_code"], a["succeeded"]) for a in log] == [
            (500, False),
            (503, False),
            (204, True),
        ]
        assert log[0]["response_excerpt"] == "down"
        assert all(a["latency_ms"] >= 0 for a in log)
        per_delivery = await gateway.get(
            f"/v1/webhooks/deliveries/{log[0]['delivery_id']}/attempts", headers=tenant.headers
        )
        assert [a["id"] for a in per_delivery.json()] == [a["id"] for a in reversed(log)]
        endpoint_now = await gateway.get(
            f"/v1/webhooks/endpoints/{endpoint['id']}", headers=tenant.headers
        )
        assert endpoint_now.json()["failing_since"] is None

    async def test_attempts_stop_when_the_schedule_is_exhausted(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        sending()
        path = hook_path()
        endpoint = await register(gateway, tenant.headers, receiver.url(path))
        receiver.script(path, *(Response("no", 500) for _ in range(10)))
        await publish(message_received(tenant.id))
        await received_at(receiver, path, 4, within=FIRST_DELIVERY)

        async def failed() -> bool:
            response = await gateway.get(
                f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries", headers=tenant.headers
            )
            return [d["status"] for d in response.json()] == ["failed"]

        await eventually(failed)
        assert len(receiver.at(path)) == 4
        receiver.scripts.pop(path)

    async def test_410_disables_the_endpoint_and_tells_the_tenant(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        # Given an endpoint that answers 410, and another that listens for disabled endpoints
        sending()
        gone_path, notice_path = hook_path(), hook_path()
        gone = await register(gateway, tenant.headers, receiver.url(gone_path))
        await register(gateway, tenant.headers, receiver.url(notice_path), "endpoint.disabled")
        receiver.script(gone_path, Response(status_code=410))
        # When a message arrives
        await publish(message_received(tenant.id))
        await received_at(receiver, gone_path, within=FIRST_DELIVERY)
        # Then the endpoint is disabled with a reason, and the other endpoint is told
        await received_at(receiver, notice_path)
        read = await gateway.get(f"/v1/webhooks/endpoints/{gone['id']}", headers=tenant.headers)
        assert read.json()["enabled"] is False
        assert "410" in read.json()["disabled_reason"]
        notice = receiver.at(notice_path)[0]
        payload = json.loads(notice.body)
        assert payload["type"] == "endpoint.disabled"
        assert payload["data"]["endpoint_id"] == gone["id"]
        # And no further event is sent to it
        await publish(message_received(tenant.id))
        await publish(opted_out(tenant.id))
        assert len(receiver.at(gone_path)) == 1

    async def test_429_with_retry_after_is_honoured(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        sending()
        path = hook_path()
        await register(gateway, tenant.headers, receiver.url(path))
        receiver.script(path, Response(status_code=429, headers={"Retry-After": "1"}))
        await publish(message_received(tenant.id))
        await received_at(receiver, path, 2, within=FIRST_DELIVERY)
        first, second = receiver.at(path)
        # The schedule says 0.2 s; the endpoint asked for 1 s
        assert second.at - first.at >= 0.95

    async def test_a_redirect_is_a_failure_and_is_never_followed(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        sending()
        path, elsewhere = hook_path(), hook_path()
        endpoint = await register(gateway, tenant.headers, receiver.url(path))
        receiver.script(path, Response(status_code=302, headers={"Location": elsewhere}))
        await publish(message_received(tenant.id))
        await received_at(receiver, path, 2, within=FIRST_DELIVERY)

        async def logged() -> bool:
            return len(await attempts(gateway, tenant, endpoint["id"])) == 2

        await eventually(logged)
        log = await attempts(gateway, tenant, endpoint["id"])
        assert [(a["status_code"], a["succeeded"]) for a in log] == [(302, False), (204, True)]
        assert receiver.at(elsewhere) == []

    async def test_an_endpoint_failing_for_five_days_is_disabled(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        # Given an endpoint that always fails
        run = sending()
        path = hook_path()
        endpoint = await register(gateway, tenant.headers, receiver.url(path))
        receiver.script(path, *(Response("no", 500) for _ in range(3)))
        await publish(message_received(tenant.id))
        await received_at(receiver, path, within=FIRST_DELIVERY)
        # When five days pass without a success
        run.clock.advance(timedelta(days=5, minutes=1))
        await received_at(receiver, path, 2)

        # Then the endpoint is disabled, saying why
        async def disabled() -> bool:
            read = await gateway.get(
                f"/v1/webhooks/endpoints/{endpoint['id']}", headers=tenant.headers
            )
            return read.json()["enabled"] is False

        await eventually(disabled)
        read = await gateway.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=tenant.headers)
        assert "5 days" in read.json()["disabled_reason"]
        assert read.json()["failing_since"] is not None
        receiver.scripts.pop(path, None)


class TestOperations:
    async def test_a_rotated_secret_signs_beside_the_old_one_during_the_grace(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        # Given an endpoint whose secret is rotated with a grace period
        sending()
        path = hook_path()
        endpoint = await register(gateway, tenant.headers, receiver.url(path))
        rotated = await gateway.post(
            f"/v1/webhooks/endpoints/{endpoint['id']}/rotate-secret",
            json={"grace_seconds": 3600},
            headers=tenant.headers,
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != endpoint["secret"]
        # When a message arrives
        await publish(message_received(tenant.id))
        await received_at(receiver, path, within=FIRST_DELIVERY)
        # Then it carries two signatures, and either secret alone verifies it
        [got] = receiver.at(path)
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        Webhook(new_secret).verify(got.body, got.headers)
        Webhook(str(endpoint["secret"])).verify(got.body, got.headers)

    async def test_resend_and_replay(
        self, gateway, tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        # Given two deliveries that both succeeded
        sending()
        path = hook_path()
        endpoint = await register(gateway, tenant.headers, receiver.url(path))
        await publish(message_received(tenant.id, "first"))
        await received_at(receiver, path, within=FIRST_DELIVERY)
        await publish(message_received(tenant.id, "second"))
        await received_at(receiver, path, 2)
        listed = await gateway.get(
            f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries", headers=tenant.headers
        )
        second, first = listed.json()
        # When the operator resends the first one
        resent = await gateway.post(
            f"/v1/webhooks/deliveries/{first['id']}/resend", headers=tenant.headers
        )
        assert resent.status_code == 202, resent.text
        # Then the receiver gets it again, with the same webhook-id
        await received_at(receiver, path, 3)
        assert receiver.at(path)[2].headers["webhook-id"] == first["id"]
        # When the operator replays everything since the second one was created
        replayed = await gateway.post(
            f"/v1/webhooks/endpoints/{endpoint['id']}/replay",
            json={"since": second["created_at"]},
            headers=tenant.headers,
        )
        assert replayed.status_code == 202, replayed.text
        assert replayed.json() == {"deliveries": 1}
        # Then only the second one goes again
        await received_at(receiver, path, 4)
        assert receiver.at(path)[3].headers["webhook-id"] == second["id"]

    async def test_another_tenants_delivery_cannot_be_resent(
        self, gateway, tenant, new_tenant, receiver, publish, partner_consumer, sending
    ) -> None:
        sending()
        other = await new_tenant()
        path = hook_path()
        endpoint = await register(gateway, other.headers, receiver.url(path))
        await publish(message_received(other.id))
        await received_at(receiver, path, within=FIRST_DELIVERY)
        listed = await gateway.get(
            f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries", headers=other.headers
        )
        delivery_id = listed.json()[0]["id"]
        for request in (
            gateway.post(f"/v1/webhooks/deliveries/{delivery_id}/resend", headers=tenant.headers),
            gateway.get(f"/v1/webhooks/deliveries/{delivery_id}", headers=tenant.headers),
            gateway.get(f"/v1/webhooks/deliveries/{delivery_id}/attempts", headers=tenant.headers),
        ):
            assert (await request).status_code == 404
