"""Models per tenant and purpose, fallback across providers with the reason recorded, and the
usage and cost of every call — through the real SDKs against fake Anthropic and OpenAI servers."""

from __future__ import annotations

from decimal import Decimal

from switchboard.contracts import Topic, UsageRecorded

CLAUDE_THEN_GPT = {"chat": ["claude", "gpt"]}


class TestRouting:
    async def test_a_tenant_picks_its_model_for_chat(
        self, tenant, phone, configure, fake_models
    ) -> None:
        # Given a tenant whose chat route is Claude
        fake_models.anthropic.reply = "We open at nine."
        await configure(tenant, routes={"chat": ["claude"]})
        # When a contact writes
        exchange = await (await phone(tenant)).text("When do you open?")
        # Then Claude answers it and the transcript says so
        reply = exchange.reply
        assert reply is not None
        assert (reply["body"], reply["provider"], reply["model"]) == (
            "We open at nine.",
            "claude",
            "claude-test",
        )
        assert reply["fallback"] == []
        [request] = fake_models.anthropic.requests
        assert request["messages"][-1] == {"role": "user", "content": "When do you open?"}
        assert fake_models.openai.requests == []

    async def test_another_tenant_keeps_the_platform_route(
        self, tenant, new_tenant, phone, configure, fake_models
    ) -> None:
        # Given one tenant on Claude and another that never chose
        await configure(tenant, routes={"chat": ["claude"]})
        other = await new_tenant()
        # When the other tenant's contact writes
        exchange = await (await phone(other)).text("hello")
        # Then the platform's route (the offline model) answers, and Claude is not called
        assert exchange.reply is not None
        assert exchange.reply["provider"] == "offline"
        assert fake_models.anthropic.requests == []


class TestFallback:
    async def test_an_overloaded_provider_falls_back_to_the_next_with_the_reason_recorded(
        self, tenant, phone, configure, fake_models, read_events
    ) -> None:
        # Given Claude then GPT, and Claude overloaded on every try
        await configure(tenant, routes=CLAUDE_THEN_GPT)
        fake_models.anthropic.fail_with.extend([(529, "overloaded_error")] * 3)
        fake_models.openai.reply = "Yes, we deliver."
        # When a contact writes
        exchange = await (await phone(tenant)).text("Do you deliver?")
        # Then GPT's answer is sent, after Claude was tried three times (two retries)
        reply = exchange.reply
        assert reply is not None
        assert (reply["body"], reply["provider"]) == ("Yes, we deliver.", "gpt")
        assert len(fake_models.anthropic.requests) == 3
        # And the turn records why Claude did not answer
        assert len(reply["fallback"]) == 3
        assert all("claude" in r and "529" in r for r in reply["fallback"])
        assert exchange.turn["outcome"] == "answered"

    async def test_a_rate_limit_is_retried_on_the_same_provider(
        self, tenant, phone, configure, fake_models
    ) -> None:
        await configure(tenant, routes=CLAUDE_THEN_GPT)
        fake_models.anthropic.fail_with.append((429, "rate_limit_error"))
        exchange = await (await phone(tenant)).text("Hi")
        reply = exchange.reply
        assert reply is not None
        assert reply["provider"] == "claude"
        assert len(reply["fallback"]) == 1
        assert "429" in reply["fallback"][0]
        assert fake_models.openai.requests == []

    async def test_a_refused_key_is_not_retried(
        self, tenant, phone, configure, fake_models
    ) -> None:
        await configure(tenant, routes=CLAUDE_THEN_GPT)
        fake_models.anthropic.fail_with.append((401, "authentication_error"))
        exchange = await (await phone(tenant)).text("Hi")
        assert exchange.reply is not None
        assert exchange.reply["provider"] == "gpt"
        assert len(fake_models.anthropic.requests) == 1
        assert "401" in exchange.reply["fallback"][0]

    async def test_when_every_provider_fails_the_contact_gets_a_safe_reply_and_a_person_looks(
        self, tenant, phone, configure, fake_models, conversation_api
    ) -> None:
        # Given both providers failing
        await configure(tenant, routes=CLAUDE_THEN_GPT)
        fake_models.anthropic.fail_with.extend([(500, "api_error")] * 3)
        fake_models.openai.fail_with.extend([(503, "server_error")] * 3)
        # When a contact writes
        exchange = await (await phone(tenant)).text("Is my order ready?")
        # Then a short apology is sent, written by the system rather than a model
        reply = exchange.reply
        assert reply is not None
        assert reply["role"] == "system"
        assert "can't answer right now" in reply["body"]
        assert exchange.turn["outcome"] == "failed"
        # And every failure is on record, and the conversation awaits review
        assert len(reply["fallback"]) == 6
        conversation = exchange.conversation
        assert conversation["needs_review"] is True
        assert "no model answered" in conversation["review_reason"]
        flagged = await conversation_api.get(
            "/v1/conversations", params={"needs_review": "true"}, headers=tenant.headers
        )
        assert [c["id"] for c in flagged.json()] == [conversation["id"]]


class TestUsage:
    async def test_every_call_publishes_its_tokens_latency_and_cost(
        self, tenant, phone, configure, fake_models, read_events
    ) -> None:
        # Given GPT at $3 / $15 per million tokens
        await configure(tenant, routes={"chat": ["gpt"]})
        fake_models.openai.reply = "one two three four five"
        # When a contact writes
        exchange = await (await phone(tenant)).text("Tell me something")
        reply = exchange.reply
        assert reply is not None
        # Then one usage record gives the call's provider, model, tokens, latency and cost
        [usage] = await read_events(Topic.USAGE, tenant.id, until=lambda events: len(events) >= 1)
        assert isinstance(usage, UsageRecorded)
        data = usage.data
        assert (data.provider, data.model, data.purpose) == ("gpt", "gpt-test", "chat")
        assert data.output_tokens == 5
        assert data.input_tokens == reply["input_tokens"] > 0
        expected = (Decimal(data.input_tokens) * 3 + Decimal(5) * 15) / Decimal(1_000_000)
        assert data.cost == expected.quantize(Decimal("0.000001"))
        assert data.latency_ms is not None
        assert data.latency_ms >= 0
        # And the transcript keeps the same cost and latency with the reply
        assert Decimal(reply["cost"]) == data.cost
        assert reply["latency_ms"] == data.latency_ms
