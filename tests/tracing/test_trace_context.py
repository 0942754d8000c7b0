"""Trace context crosses the outbox: the event a webhook causes carries the webhook's trace."""

from __future__ import annotations

import secrets

import httpx
from aiokafka import AIOKafkaConsumer
from twilio.request_validator import RequestValidator

from switchboard.contracts import MessageReceived, Topic, parse_event

PUBLIC_URL = "http://127.0.0.1:8080"
WEBHOOK = "/v1/webhooks/twilio/messages"


async def test_the_inbound_event_continues_the_webhook_trace(
    gateway: httpx.AsyncClient, tenant, kafka_bootstrap: str
) -> None:
    # Given a number, and a caller that is already inside a trace
    token, number = secrets.token_hex(16), "+1555" + str(secrets.randbelow(10**7)).zfill(7)
    registered = await gateway.post(
        "/v1/numbers",
        json={"address": number, "twilio": {"account_sid": "AC" + "1" * 32, "auth_token": token}},
        headers=tenant.headers,
    )
    assert registered.status_code == 201
    trace_id = secrets.token_hex(16)
    sid = "SM" + secrets.token_hex(16)
    form = {"MessageSid": sid, "From": "+15550009999", "To": number, "Body": "trace me"}
    headers = {
        "X-Twilio-Signature": RequestValidator(token).compute_signature(PUBLIC_URL + WEBHOOK, form),
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
    }
    # When the webhook is taken and its event relayed
    assert (await gateway.post(WEBHOOK, data=form, headers=headers)).status_code == 200
    # Then the record on messages.inbound carries the same trace id in its headers
    consumer = AIOKafkaConsumer(
        Topic.MESSAGES_INBOUND.value,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"trace-test-{secrets.token_hex(4)}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        traceparent = None
        for _ in range(40):
            batch = await consumer.getmany(timeout_ms=500)
            for record in (r for records in batch.values() for r in records):
                event = parse_event(record.value)
                if isinstance(event, MessageReceived) and event.data.provider_message_id == sid:
                    traceparent = dict(record.headers)["traceparent"].decode()
            if traceparent:
                break
    finally:
        await consumer.stop()
    assert traceparent is not None
    assert traceparent.split("-")[1] == trace_id
