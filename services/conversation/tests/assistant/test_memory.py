"""Memory: recent turns word for word, older ones in a rolling summary; RESET starts fresh."""

from __future__ import annotations

from switchboard.contracts import Topic, UsageRecorded

LONG = "Here is a detail about my order that matters. " * 12  # ~140 tokens by our estimate


class TestMemory:
    async def test_older_turns_are_summarised_and_recent_ones_kept(
        self, tenant, phone, configure, fake_models, read_events
    ) -> None:
        # Given chat on GPT, summaries by Claude, and a worker with a 400-token memory budget
        await configure(tenant, routes={"chat": ["gpt"], "summary": ["claude"]})
        fake_models.anthropic.reply = "Ann ordered a blue sofa, order 4411; delivery is late."
        contact = await phone(tenant)
        # When the contact sends long messages until they no longer fit
        await contact.text("Hi, I'm Ann, order 4411, a blue sofa.")
        for _ in range(4):
            exchange = await contact.text(LONG)
        # Then Claude was asked to fold the older turns into a summary
        [summary_request] = fake_models.anthropic.requests
        folded = summary_request["messages"][0]["content"]
        assert "Customer: Hi, I'm Ann, order 4411, a blue sofa." in folded
        # And the conversation keeps that summary
        assert exchange.conversation["summary"] == fake_models.anthropic.reply
        # And the model answering sees the summary in its instructions, and fewer turns
        chat = fake_models.openai.requests[-1]
        assert fake_models.anthropic.reply in chat["messages"][0]["content"]
        said = [m["content"] for m in chat["messages"][1:]]
        assert "Hi, I'm Ann, order 4411, a blue sofa." not in said
        assert said[-1] == LONG
        # And the summary's call is paid for like any other
        usage = await read_events(
            Topic.USAGE,
            tenant.id,
            until=lambda events: any(e.data.purpose == "summary" for e in events),
        )
        [summarised] = [e for e in usage if e.data.purpose == "summary"]
        assert isinstance(summarised, UsageRecorded)
        assert (summarised.data.provider, summarised.data.model) == ("claude", "claude-test")
        assert summarised.data.cost > 0

    async def test_reset_starts_a_fresh_conversation(
        self, tenant, phone, configure, fake_models
    ) -> None:
        await configure(tenant, routes={"chat": ["gpt"]})
        contact = await phone(tenant)
        first = await contact.text("My name is Ann")
        # When the contact says RESET
        reset = await contact.text("RESET")
        assert reset.reply is not None
        assert "fresh conversation" in reset.reply["body"]
        assert reset.conversation["status"] == "closed"
        # Then the next message opens a new conversation whose model sees nothing before it
        after = await contact.text("What's my name?")
        assert after.conversation["id"] != first.conversation["id"]
        assert after.conversation["status"] == "open"
        said = [m["content"] for m in fake_models.openai.requests[-1]["messages"][1:]]
        assert said == ["What's my name?"]
