"""Moderation: a local rule set always, the provider's endpoint where routed; flagged replies
are not sent, the conversation is marked for review, and the contact gets a safe reply."""

from __future__ import annotations


def chat_requests(fake) -> list[dict]:
    return [r for r in fake.requests if "messages" in r]


class TestLocalRules:
    async def test_a_reply_with_a_card_number_is_withheld(
        self, tenant, phone, configure, fake_models
    ) -> None:
        # Given a model that would repeat a card number
        await configure(tenant, routes={"chat": ["gpt"]})
        fake_models.openai.reply = "Sure, your card on file is 4111 1111 1111 1111."
        # When a contact asks
        exchange = await (await phone(tenant)).text("What card do you have for me?")
        # Then the model's words are kept for review but never sent
        withheld, safe = exchange.replies
        assert withheld["role"] == "assistant"
        assert withheld["outcome"] == "withheld"
        assert withheld["idempotency_key"] is None
        assert withheld["moderation"]["categories"] == ["payment_card"]
        assert "4111" not in str(withheld["moderation"])
        # And a safe reply goes instead
        assert safe is exchange.reply
        assert safe["role"] == "system"
        assert "A member of our team will look at this conversation" in safe["body"]
        assert exchange.turn["outcome"] == "flagged"
        assert exchange.conversation["needs_review"] is True
        assert exchange.conversation["review_reason"].startswith("reply withheld: payment_card")

    async def test_an_alarming_message_reaches_a_person_not_the_model(
        self, tenant, phone, configure, fake_models
    ) -> None:
        await configure(tenant, routes={"chat": ["gpt"]})
        exchange = await (await phone(tenant)).text("honestly I want to end my life")
        assert exchange.turn["outcome"] == "flagged"
        assert exchange.reply is not None
        assert exchange.reply["role"] == "system"
        assert chat_requests(fake_models.openai) == []
        conversation = exchange.conversation
        assert conversation["needs_review"] is True
        assert conversation["handler"] == "human"
        assert conversation["review_reason"].startswith("inbound message flagged: self_harm")

    async def test_the_tenants_blocked_phrases_are_never_sent(
        self, tenant, phone, configure, fake_models
    ) -> None:
        await configure(tenant, routes={"chat": ["gpt"]}, blocked_phrases=["free upgrade"])
        fake_models.openai.reply = "Good news: you get a FREE upgrade!"
        exchange = await (await phone(tenant)).text("any deals?")
        assert exchange.turn["outcome"] == "flagged"
        assert exchange.replies[0]["outcome"] == "withheld"

    async def test_ordinary_conversation_passes(
        self, tenant, phone, configure, fake_models
    ) -> None:
        await configure(tenant, routes={"chat": ["gpt"]})
        fake_models.openai.reply = "Your order ships tomorrow; the delivery window is 9 to 5."
        exchange = await (await phone(tenant)).text("This delay is killing me, where's my order?")
        assert exchange.turn["outcome"] == "answered"
        assert exchange.conversation["needs_review"] is False


class TestProviderModeration:
    async def test_the_providers_endpoint_flags_what_the_rules_do_not_know(
        self, tenant, phone, configure, fake_models
    ) -> None:
        # Given a tenant whose moderation route is OpenAI's endpoint
        await configure(tenant, routes={"chat": ["claude"], "moderation": ["gpt"]})
        fake_models.openai.moderation_triggers["grenade"] = "violence"
        fake_models.anthropic.reply = "Our grenade special is back."
        # When the model's reply contains what the endpoint flags
        exchange = await (await phone(tenant)).text("anything new?")
        # Then it is withheld, and the verdict names the provider
        assert exchange.turn["outcome"] == "flagged"
        withheld = exchange.replies[0]
        assert withheld["moderation"]["findings"][0]["source"] == "gpt"
        assert withheld["moderation"]["categories"] == ["violence"]
        checked = [r["input"] for r in fake_models.openai.requests if "input" in r]
        assert checked == ["anything new?", "Our grenade special is back."]

    async def test_when_the_endpoint_is_down_the_local_rules_still_decide(
        self, tenant, phone, configure, fake_models
    ) -> None:
        await configure(tenant, routes={"chat": ["claude"], "moderation": ["gpt"]})
        fake_models.openai.fail_with.extend([(500, "server_error")] * 2)
        fake_models.anthropic.reply = "We open at nine."
        exchange = await (await phone(tenant)).text("when do you open?")
        assert exchange.turn["outcome"] == "answered"
        assert exchange.reply is not None
        assert exchange.reply["body"] == "We open at nine."
