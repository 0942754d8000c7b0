"""The assistant end to end: an inbound message on the broker becomes one reply request, one
usage record and a transcript, however often the message is delivered."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from uuid import UUID

from switchboard.contracts import (
    AnyEvent,
    ContactUpserted,
    MessageRequested,
    Topic,
    UsageRecorded,
    contact_key,
    tenant_key,
)


def count(n: int) -> Callable[[list[AnyEvent]], bool]:
    return lambda events: len(events) >= n


def answering(message_id: UUID) -> Callable[[list[AnyEvent]], bool]:
    """Until the reply to `message_id` is among the events."""
    return lambda events: any(
        isinstance(e, MessageRequested) and e.data.in_reply_to == message_id for e in events
    )


class TestAnswer:
    async def test_a_message_gets_one_reply_one_usage_record_and_a_transcript(
        self,
        tenant,
        conversation_worker,
        conversation_api,
        accepted,
        make_message,
        publish,
        read_records,
    ) -> None:
        # Given a tenant whose key this service accepts
        await accepted(tenant.headers)
        # When a contact's message arrives on messages.inbound
        inbound = make_message(tenant.id, "Hi, are you open on Sunday?")
        message = inbound.data
        await publish(inbound)
        # Then one reply is requested on messages.outbound, keyed by the contact, answering it
        [(key, reply)] = await read_records(Topic.MESSAGES_OUTBOUND, tenant.id, until=count(1))
        assert key == contact_key(tenant.id, message.from_address)
        assert isinstance(reply, MessageRequested)
        assert reply.data.idempotency_key == f"reply:{message.message_id}"
        assert (reply.data.origin, reply.data.priority, reply.data.channel) == (
            "reply",
            "reply",
            "sms",
        )
        assert (reply.data.to_address, reply.data.from_address) == (
            message.from_address,
            message.to_address,
        )
        assert reply.data.in_reply_to == message.message_id
        assert reply.data.body.startswith("[offline assistant]")
        assert '"Hi, are you open on Sunday?"' in reply.data.body
        # And one usage record for the model's tokens, keyed by tenant, free with the offline model
        [(key, usage)] = await read_records(Topic.USAGE, tenant.id, until=count(1))
        assert key == tenant_key(tenant.id)
        assert isinstance(usage, UsageRecorded)
        used = usage.data
        assert used.kind == "llm_tokens"
        assert used.input_tokens
        assert used.output_tokens
        assert used.quantity == used.input_tokens + used.output_tokens
        assert (used.provider, used.model, used.cost) == ("offline", "offline", Decimal(0))
        assert used.source_id == f"llm:{message.message_id}"
        assert (used.contact_address, used.channel) == (message.from_address, "sms")
        # And the new contact is announced on `contacts`
        [(key, upserted)] = await read_records(Topic.CONTACTS, tenant.id, until=count(1))
        assert key == contact_key(tenant.id, message.from_address)
        assert isinstance(upserted, ContactUpserted)
        assert upserted.data.address == message.from_address
        # And the transcript reads: the contact's message, then the reply
        listed = await conversation_api.get(
            "/v1/contacts", params={"address": message.from_address}, headers=tenant.headers
        )
        [contact] = listed.json()
        assert contact["id"] == str(upserted.data.contact_id)
        conversations = await conversation_api.get(
            "/v1/conversations", params={"contact_id": contact["id"]}, headers=tenant.headers
        )
        [conversation] = conversations.json()
        assert conversation["id"] == str(reply.data.conversation_id)
        assert (conversation["channel"], conversation["sender_address"]) == (
            "sms",
            message.to_address,
        )
        detail = await conversation_api.get(
            f"/v1/conversations/{conversation['id']}", headers=tenant.headers
        )
        turns = detail.json()["turns"]
        assert [(t["role"], t["body"]) for t in turns] == [
            ("user", "Hi, are you open on Sunday?"),
            ("assistant", reply.data.body),
        ]
        assert turns[0]["message_id"] == str(message.message_id)
        assert turns[1]["idempotency_key"] == reply.data.idempotency_key
        assert turns[1]["delivery_status"] == "queued"
        assert (turns[1]["provider"], turns[1]["model"]) == ("offline", "offline")
        assert turns[1]["input_tokens"] == used.input_tokens

    async def test_a_redelivered_message_is_answered_once(
        self, tenant, conversation_worker, accepted, make_message, publish, read_events
    ) -> None:
        # Given a contact's message delivered twice (the same event), then their next message
        await accepted(tenant.headers)
        first = make_message(tenant.id, "first")
        then = make_message(tenant.id, "second", from_address=first.data.from_address)
        for event in (first, first, then):
            await publish(event)
        # When the next message has been answered (one contact's events are handled in order)
        replies = await read_events(
            Topic.MESSAGES_OUTBOUND, tenant.id, until=answering(then.data.message_id)
        )
        # Then the first message got exactly one reply
        assert [r.data.in_reply_to for r in replies] == [
            first.data.message_id,
            then.data.message_id,
        ]
        # And the next reply counted one earlier message in the conversation, not two
        assert "message 2 of this conversation" in replies[1].data.body
        # And there is one usage record per answered message
        usage = await read_events(Topic.USAGE, tenant.id, until=count(2))
        assert sorted(u.data.source_id for u in usage) == sorted(
            [f"llm:{first.data.message_id}", f"llm:{then.data.message_id}"]
        )

    async def test_a_message_republished_as_a_new_event_is_answered_once(
        self, tenant, conversation_worker, accepted, make_message, publish, read_events
    ) -> None:
        # Given the same inbound message published as two events with different ids
        await accepted(tenant.headers)
        first = make_message(tenant.id, "hello")
        again = first.model_copy(update={"event_id": make_message(tenant.id, "").event_id})
        then = make_message(tenant.id, "still there?", from_address=first.data.from_address)
        for event in (first, again, then):
            await publish(event)
        # When the following message has been answered
        replies = await read_events(
            Topic.MESSAGES_OUTBOUND, tenant.id, until=answering(then.data.message_id)
        )
        # Then the message was answered once
        assert [r.data.in_reply_to for r in replies] == [
            first.data.message_id,
            then.data.message_id,
        ]

    async def test_a_compliance_keyword_gets_no_answer_from_the_assistant(
        self, tenant, conversation_worker, accepted, make_message, publish, read_events
    ) -> None:
        # Given a contact who texts STOP (the gateway confirms it), then writes again later
        await accepted(tenant.headers)
        stop = make_message(tenant.id, "STOP")
        stop = stop.model_copy(update={"data": stop.data.model_copy(update={"keyword": "opt_out"})})
        then = make_message(tenant.id, "hello again", from_address=stop.data.from_address)
        for event in (stop, then):
            await publish(event)
        # When the later message has been answered (one contact's events go in order)
        replies = await read_events(
            Topic.MESSAGES_OUTBOUND, tenant.id, until=answering(then.data.message_id)
        )
        # Then the assistant answered only the later message
        assert [r.data.in_reply_to for r in replies] == [then.data.message_id]
