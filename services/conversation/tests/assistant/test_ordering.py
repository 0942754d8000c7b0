"""Many conversations at once: different contacts' model calls overlap, while one contact's
messages are answered strictly in order, each answer seeing the ones before it."""

from __future__ import annotations

from ..conftest import message_received


class TestOrdering:
    async def test_one_contact_in_order_while_others_are_answered_meanwhile(
        self, tenant, phone, configure, fake_models, publish
    ) -> None:
        # Given a slow model
        await configure(tenant, routes={"chat": ["claude"]})
        fake_models.anthropic.delay = 0.4
        chatty, quick = await phone(tenant), await phone(tenant)
        # When one contact sends five messages at once, and another contact one message
        burst = [
            message_received(tenant.id, f"message {i}", from_address=chatty.address)
            for i in range(5)
        ]
        for event in burst:
            await publish(event)
        single = message_received(tenant.id, "just one", from_address=quick.address)
        await publish(single)
        # Then the other contact is answered before the chatty one's fifth answer
        quick_done = await quick.outcome(single)
        chatty_done = await chatty.outcome(burst[-1])
        assert quick_done.reply is not None
        assert chatty_done.reply is not None
        assert quick_done.reply["created_at"] < chatty_done.reply["created_at"]
        # And the chatty contact's transcript alternates message, answer, in the order sent
        [conversation] = await chatty.conversations()
        turns = conversation["turns"]
        assert [t["role"] for t in turns] == ["user", "assistant"] * 5
        assert [t["body"] for t in turns[::2]] == [f"message {i}" for i in range(5)]
        # And each answer was written knowing every message before it
        mine = [
            r for r in fake_models.anthropic.requests if "message" in r["messages"][-1]["content"]
        ]
        seen = [[m["content"] for m in r["messages"] if m["role"] == "user"] for r in mine]
        assert seen == [[f"message {j}" for j in range(i + 1)] for i in range(5)]
