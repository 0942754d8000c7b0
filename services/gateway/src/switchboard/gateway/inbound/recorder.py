"""Group commit for webhook receipts: concurrent webhooks share one statement and one commit.

Each receipt and its `message.received` outbox row are written by a single INSERT ... RETURNING
(one round trip, its own transaction), so a webhook is answered only once both are durable. While
one statement is in flight, newly arriving receipts queue up and go together in the next; under
load a commit covers dozens of webhooks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from switchboard.common import telemetry
from switchboard.common.grouping import Batcher
from switchboard.contracts import MessageReceived, MessageReceivedData, Topic, contact_key

_INSERT = """
WITH incoming AS (
    SELECT * FROM unnest(
        $1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::uuid[], $13::text[],
        $14::bytea[], $15::text[]
    ) AS t(id, tenant_id, sender_number_id, channel, provider, provider_message_id,
           from_address, to_address, body, media, received_at, event_id, payload, key, headers)
), taken AS (
    INSERT INTO gateway.inbound_messages (
        id, tenant_id, sender_number_id, channel, provider, provider_message_id,
        from_address, to_address, body, media, received_at
    )
    SELECT id, tenant_id, sender_number_id, channel, provider, provider_message_id,
           from_address, to_address, body, media::jsonb, received_at
    FROM incoming
    ON CONFLICT (provider, provider_message_id) DO NOTHING
    RETURNING id
), relayed AS (
    INSERT INTO gateway.outbox (topic, key, event_id, payload, headers)
    SELECT $16, i.key, i.event_id, i.payload, i.headers::jsonb
    FROM incoming i JOIN taken USING (id)
    ORDER BY i.received_at
)
SELECT id FROM taken
"""


@dataclass(frozen=True, slots=True)
class Receipt:
    tenant_id: UUID
    sender_number_id: UUID
    message: MessageReceivedData


class InboundRecorder:
    def __init__(self, pool: asyncpg.Pool, *, max_batch: int = 256, max_flushes: int = 4) -> None:
        self.pool = pool
        # A failed write fails every webhook in it (each gets a 503 and Twilio retries): the
        # statement refuses nothing on its own, so writing them one by one would not help.
        self._batches: Batcher[tuple[object, ...], bool] = Batcher(
            self._write,
            name="gateway_inbound",
            max_batch=max_batch,
            max_concurrent=max_flushes,
            isolate_failures=False,
        )

    async def record(self, receipt: Receipt) -> bool:
        """Make the receipt and its event durable; False if this message was already taken."""
        return await self._batches.submit(_row(receipt))

    async def _write(self, rows: list[tuple[object, ...]]) -> list[bool]:
        columns = [list(values) for values in zip(*rows, strict=True)]
        taken = {r["id"] for r in await self.pool.fetch(_INSERT, *columns, _TOPIC)}
        return [row[0] in taken for row in rows]


_TOPIC = Topic.MESSAGES_INBOUND.value


def _row(receipt: Receipt) -> tuple[object, ...]:
    message = receipt.message
    event = MessageReceived.create(receipt.tenant_id, message)
    return (
        message.message_id,
        receipt.tenant_id,
        receipt.sender_number_id,
        message.channel,
        message.provider,
        message.provider_message_id,
        message.from_address,
        message.to_address,
        message.body,
        json.dumps([m.model_dump() for m in message.media]) if message.media else "[]",
        message.received_at,
        event.event_id,
        event.model_dump_json(),
        contact_key(receipt.tenant_id, message.from_address),
        _json_object(telemetry.current_trace_headers()),
    )


def _json_object(headers: dict[str, str]) -> str:
    return json.dumps(headers) if headers else "{}"
