"""Delivery rules: statuses in any order, unknown statuses kept, replies first, expiry."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from switchboard.common.db import Database
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import (
    MessageRequested,
    MessageRequestedData,
    MessageStatusChanged,
    Topic,
)
from switchboard.gateway.outbound.service import outbound_service
from switchboard.gateway.outbound.transports import TwilioTransport

from ..helpers import (
    STATUS_PATH,
    new_dispatcher,
    random_number,
    signed,
    tenant_with_number,
    wait_for_status,
)


async def sent_message(gateway, tenant, fake, dispatching) -> tuple[dict, str]:
    """A message Twilio took (its own callbacks off): the test plays Twilio's callbacks."""
    fake.callbacks = False
    _, token = await tenant_with_number(gateway, tenant, fake)
    created = await gateway.post(
        "/v1/messages", json={"to": random_number(), "body": "hi"}, headers=tenant.headers
    )
    return await wait_for_status(gateway, tenant, created.json()["id"], "sent"), token


async def report(gateway, token: str, sid: str, status: str) -> None:
    form = {"MessageSid": sid, "MessageStatus": status}
    response = await gateway.post(STATUS_PATH, data=form, headers=signed(token, STATUS_PATH, form))
    assert response.status_code == 204, response.text


def outcomes() -> list[tuple[tuple[str, ...], str]]:
    cases = [(order, "read") for order in itertools.permutations(("sent", "delivered", "read"))]
    cases += [
        (order, "delivered") for order in itertools.permutations(("undelivered", "delivered"))
    ]
    cases += [(order, "failed") for order in itertools.permutations(("sent", "failed"))]
    return cases


class TestStatusCallbacks:
    @pytest.mark.parametrize(
        ("order", "final"), outcomes(), ids=lambda v: ">".join(v) if isinstance(v, tuple) else v
    )
    async def test_statuses_in_any_order_end_at_the_furthest(
        self, gateway, tenant, fake_twilio, dispatching, order: tuple[str, ...], final: str
    ) -> None:
        message, token = await sent_message(gateway, tenant, fake_twilio, dispatching)
        for status in order:
            await report(gateway, token, message["provider_message_id"], status)
        after = (await gateway.get(f"/v1/messages/{message['id']}", headers=tenant.headers)).json()
        assert after["status"] == final
        assert [h["status"] for h in after["history"]][-len(order) :] == list(order)

    async def test_a_campaigns_message_names_its_campaign_in_every_status_event(
        self,
        gateway,
        tenant,
        fake_twilio,
        dispatching,
        outbound_requests,
        status_events,
        publish,
    ) -> None:
        # Given a tenant with a Twilio number (whose callbacks the test plays)
        fake_twilio.callbacks = False
        _, token = await tenant_with_number(gateway, tenant, fake_twilio)
        # When the campaigns service asks for a message of one of its campaigns
        campaign_id = uuid4()
        request = MessageRequestedData(
            idempotency_key=f"campaigns:{uuid4()}",
            origin="campaign",
            channel="sms",
            to_address=random_number(),
            body="Spring sale: 20% off this week",
            campaign_id=campaign_id,
        )
        await publish(MessageRequested.create(tenant.id, request))

        def reached(status: str):
            return lambda events: any(e.data.status == status for e in events)

        # And Twilio takes it (the dispatcher records the send), then reports it delivered
        [(_, sent)] = await status_events.wait(Topic.MESSAGES_STATUS, tenant.id, reached("sent"))
        assert isinstance(sent, MessageStatusChanged)
        await report(gateway, token, sent.data.provider_message_id, "delivered")
        records = await status_events.wait(Topic.MESSAGES_STATUS, tenant.id, reached("delivered"))
        # Then each status event carries the campaign, for billing to attribute its cost
        assert [(e.data.status, e.data.origin, e.data.campaign_id) for _, e in records] == [
            ("sent", "campaign", campaign_id),
            ("delivered", "campaign", campaign_id),
        ]

    async def test_an_unknown_status_is_kept_in_the_history_only(
        self, gateway, tenant, fake_twilio, dispatching
    ) -> None:
        message, token = await sent_message(gateway, tenant, fake_twilio, dispatching)
        await report(gateway, token, message["provider_message_id"], "partially_delivered")
        after = (await gateway.get(f"/v1/messages/{message['id']}", headers=tenant.headers)).json()
        assert after["status"] == "sent"
        assert after["history"][-1]["detail"]["MessageStatus"] == "partially_delivered"


async def enqueue(tenant_id, **fields) -> None:
    db = Database(PlatformSettings().database_url, pool_size=1)
    try:
        async with db.transaction() as session:
            await outbound_service.enqueue(session, tenant_id, MessageRequestedData(**fields))
    finally:
        await db.dispose()


async def dispatch_one_at_a_time(serve, fake) -> None:
    """Claim and send one message at a time until none is due (the order is the claim order)."""
    db = Database(PlatformSettings().database_url, pool_size=2)
    transport = TwilioTransport(await serve(fake.app()))
    dispatcher = new_dispatcher(
        db,
        transport,
        batch_size=1,
    )
    try:
        while claims := await dispatcher.claim():
            for claim in await dispatcher.screen(claims):
                await dispatcher.deliver(claim)
    finally:
        await transport.close()
        await db.dispose()


class TestQueue:
    async def test_replies_go_before_bulk_queued_earlier(
        self, gateway, tenant, fake_twilio, serve
    ) -> None:
        # Given three campaign messages queued, then a reply to a contact
        number, _ = await tenant_with_number(gateway, tenant, fake_twilio)
        base = {"channel": "sms", "from_address": number}
        for i in range(3):
            await enqueue(
                tenant.id, idempotency_key=f"bulk-{i}", origin="campaign", priority="bulk",
                to_address=random_number(), body=f"Offer {i}", **base,
            )  # fmt: skip
        await enqueue(
            tenant.id, idempotency_key="reply-1", origin="reply", priority="reply",
            to_address=random_number(), body="Your answer", **base,
        )  # fmt: skip
        # When the dispatcher sends them
        await dispatch_one_at_a_time(serve, fake_twilio)
        # Then the reply went first, then the campaign in the order it was queued
        bodies = [m["Body"] for m in fake_twilio.messages if m["From"] == number]
        assert bodies == ["Your answer", "Offer 0", "Offer 1", "Offer 2"]

    async def test_an_expired_message_is_failed_not_sent_late(
        self, gateway, tenant, fake_twilio, serve
    ) -> None:
        number, _ = await tenant_with_number(gateway, tenant, fake_twilio)
        to = random_number()
        await enqueue(
            tenant.id, idempotency_key="otp-1", origin="operator", channel="sms", to_address=to,
            from_address=number, body="Code 1234",
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )  # fmt: skip
        await dispatch_one_at_a_time(serve, fake_twilio)
        listed = await gateway.get("/v1/messages", params={"contact": to}, headers=tenant.headers)
        [message] = listed.json()
        assert (message["status"], message["error_code"]) == ("failed", "expired")
        assert not [m for m in fake_twilio.messages if m["To"] == to]
