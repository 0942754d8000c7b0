"""Human handoff: asked for or by the tenant's rules, with the reason recorded; the assistant
stays silent while a person answers through the API; handing back resumes it."""

from __future__ import annotations

from switchboard.contracts import (
    ConversationHandedBack,
    ConversationHandedOver,
    MessageRequested,
    Topic,
)

from .conftest import model_asked


class TestHandoff:
    async def test_asking_for_a_human_hands_over_and_the_assistant_stays_silent(
        self, tenant, phone, configure, fake_models, conversation_api, read_events
    ) -> None:
        await configure(tenant, routes={"chat": ["gpt"]})
        contact = await phone(tenant)
        await contact.text("Where is my parcel?")
        # When the contact asks for a person
        asked = await contact.text("Can I talk to a human please")
        assert asked.turn["outcome"] == "handoff"
        assert asked.reply is not None
        assert "passing you to a member of our team" in asked.reply["body"]
        conversation = asked.conversation
        assert conversation["handler"] == "human"
        assert conversation["handoff_reason"] == "the contact asked for a person"
        # Then operators are told (partners can subscribe) and see it among the handed over
        [announced] = await read_events(Topic.CONVERSATIONS, tenant.id, until=bool)
        assert isinstance(announced, ConversationHandedOver)
        assert (announced.data.by, announced.data.reason) == (
            "assistant",
            "the contact asked for a person",
        )
        assert announced.data.contact_address == contact.address
        listed = await conversation_api.get(
            "/v1/conversations", params={"handler": "human"}, headers=tenant.headers
        )
        assert [c["id"] for c in listed.json()] == [conversation["id"]]
        # And the assistant does not answer while a person has it
        calls = len(fake_models.openai.requests)
        waiting = await contact.text("Hello? Anyone?")
        assert waiting.turn["outcome"] == "handed_over"
        assert waiting.replies == []
        assert len(fake_models.openai.requests) == calls

        # When an operator replies through the API
        path = f"/v1/conversations/{conversation['id']}"
        sent = await conversation_api.post(
            f"{path}/messages",
            json={"body": "Hi, this is Sam. Your parcel is at the depot.", "author": "Sam"},
            headers=tenant.headers,
        )
        assert sent.status_code == 202, sent.text
        assert (sent.json()["role"], sent.json()["author"]) == ("operator", "Sam")
        # Then the reply is requested for delivery to the contact, as the operator's
        outbound = await read_events(
            Topic.MESSAGES_OUTBOUND,
            tenant.id,
            until=lambda events: any(
                isinstance(e, MessageRequested) and e.data.origin == "operator" for e in events
            ),
        )
        [request] = [
            e for e in outbound if isinstance(e, MessageRequested) and e.data.origin == "operator"
        ]
        assert request.data.to_address == contact.address
        assert request.data.body == "Hi, this is Sam. Your parcel is at the depot."
        assert request.data.idempotency_key == sent.json()["idempotency_key"]

        # When the operator hands it back
        back = await conversation_api.post(f"{path}/handback", headers=tenant.headers)
        assert back.status_code == 200
        assert back.json()["handler"] == "assistant"
        # (announced once, however often it was taken over meanwhile)
        announced_all = await read_events(
            Topic.CONVERSATIONS,
            tenant.id,
            until=lambda events: any(isinstance(e, ConversationHandedBack) for e in events),
        )
        assert [e.type for e in announced_all] == [
            "conversation.handed_over",
            "conversation.handed_back",
        ]
        # Then the assistant answers again, having read the whole thread
        resumed = await contact.text("Thanks! Can I change the address?")
        assert resumed.turn["outcome"] == "answered"
        said = [m["content"] for m in fake_models.openai.requests[-1]["messages"][1:]]
        assert "Hi, this is Sam. Your parcel is at the depot." in said
        assert "Hello? Anyone?" in said

    async def test_a_tenants_handoff_phrase_hands_over_with_that_reason(
        self, tenant, phone, configure
    ) -> None:
        await configure(tenant, handoff_phrases=["refund"])
        exchange = await (await phone(tenant)).text("I want a REFUND for this")
        assert exchange.turn["outcome"] == "handoff"
        assert exchange.conversation["handoff_reason"] == 'handoff phrase "refund"'

    async def test_an_operator_can_take_over_and_a_retry_does_not_send_twice(
        self, tenant, phone, conversation_api, read_events
    ) -> None:
        contact = await phone(tenant)
        first = await contact.text("hello")
        path = f"/v1/conversations/{first.conversation['id']}"
        taken = await conversation_api.post(
            f"{path}/handoff", json={"reason": "VIP customer"}, headers=tenant.headers
        )
        assert taken.status_code == 200
        assert (taken.json()["handler"], taken.json()["handoff_reason"]) == (
            "human",
            "VIP customer",
        )
        [announced] = await read_events(Topic.CONVERSATIONS, tenant.id, until=bool)
        assert isinstance(announced, ConversationHandedOver)
        assert (announced.data.by, announced.data.reason) == ("operator", "VIP customer")
        reply = {"body": "Hello from the team", "idempotency_key": "op-1"}
        once = await conversation_api.post(f"{path}/messages", json=reply, headers=tenant.headers)
        again = await conversation_api.post(f"{path}/messages", json=reply, headers=tenant.headers)
        assert (once.status_code, again.status_code) == (202, 200)
        assert once.json()["id"] == again.json()["id"]
        detail = await conversation_api.get(path, headers=tenant.headers)
        assert [t["role"] for t in detail.json()["turns"]].count("operator") == 1

    async def test_bad_operator_requests_are_client_errors(
        self, tenant, new_tenant, phone, conversation_api, accepted
    ) -> None:
        contact = await phone(tenant)
        first = await contact.text("hello")
        path = f"/v1/conversations/{first.conversation['id']}"
        empty = await conversation_api.post(
            f"{path}/messages", json={"body": ""}, headers=tenant.headers
        )
        assert empty.status_code == 422
        other = await new_tenant()
        await accepted(other.headers)
        foreign = await conversation_api.post(f"{path}/handoff", headers=other.headers)
        assert foreign.status_code == 404
        reset = await contact.text("RESET")
        assert reset.conversation["status"] == "closed"
        closed = await conversation_api.post(
            f"{path}/messages", json={"body": "too late"}, headers=tenant.headers
        )
        assert closed.status_code == 409

    async def test_an_operator_taking_over_while_the_model_thinks_wins(
        self, tenant, phone, configure, fake_models, conversation_api
    ) -> None:
        # Given a conversation and a slow model
        await configure(tenant, routes={"chat": ["claude"]})
        contact = await phone(tenant)
        first = await contact.text("hello")
        fake_models.anthropic.delay = 1.0
        # When the contact writes and an operator takes over before the model has answered
        event = await contact.send("are you a bot?")
        await model_asked(fake_models.anthropic, 2)
        path = f"/v1/conversations/{first.conversation['id']}/handoff"
        assert (await conversation_api.post(path, headers=tenant.headers)).status_code == 200
        # Then the model's answer is dropped: the person answers from now on
        late = await contact.outcome(event)
        assert late.turn["outcome"] == "handed_over"
        assert late.replies == []
