"""Replies fit the channel: a tenant's SMS limit in segments, shortened at a sentence or word
boundary, never mid-word; WhatsApp allows longer."""

from __future__ import annotations

from switchboard.common.segments import count_segments

RAMBLING = (
    "Thanks for asking about our opening hours. We are open from nine in the morning until "
    "six in the evening on weekdays, and from ten until four on Saturdays. On Sundays we are "
    "closed, except in December when we open from eleven until three for the holiday rush. "
    "Parking is free behind the shop, and the number 12 bus stops right outside the door. "
)


class TestSegmentLimit:
    async def test_an_over_long_answer_is_shortened_to_the_tenants_limit(
        self, tenant, phone, configure, fake_models
    ) -> None:
        # Given a tenant allowing one SMS segment and a model that rambles
        await configure(tenant, routes={"chat": ["gpt"]}, sms_max_segments=1)
        fake_models.openai.reply = RAMBLING
        # When a contact asks
        exchange = await (await phone(tenant)).text("When are you open?")
        # Then the reply fits one segment and ends at a sentence boundary
        reply = exchange.reply
        assert reply is not None
        body = reply["body"]
        assert count_segments(body) == 1
        assert body == (
            "Thanks for asking about our opening hours. We are open from nine in the morning "
            "until six in the evening on weekdays, and from ten until four on Saturdays."
        )
        # And the model was told the limit
        assert "160" in fake_models.openai.requests[-1]["messages"][0]["content"]

    async def test_a_reply_never_ends_mid_word(self, tenant, phone, configure, fake_models) -> None:
        await configure(tenant, routes={"chat": ["gpt"]}, sms_max_segments=1)
        words = "word " * 100
        fake_models.openai.reply = words
        exchange = await (await phone(tenant)).text("hi")
        assert exchange.reply is not None
        body = exchange.reply["body"]
        assert count_segments(body) == 1
        assert body.endswith("word...")
        assert set(body.removesuffix("...").split()) == {"word"}

    async def test_whatsapp_allows_a_longer_reply(
        self, tenant, phone, configure, fake_models
    ) -> None:
        await configure(tenant, routes={"chat": ["gpt"]}, sms_max_segments=1)
        fake_models.openai.reply = RAMBLING
        exchange = await (await phone(tenant, channel="whatsapp")).text("When are you open?")
        assert exchange.reply is not None
        assert exchange.reply["body"] == RAMBLING.strip()
