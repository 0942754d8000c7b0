"""The fakes' misbehaviour on demand, as the official SDKs see it: rate limits with their
`retry-after`, slow answers, and the moderation endpoint's shapes."""

from __future__ import annotations

import anthropic
import openai
import pytest

from switchboard.devstack.fake_llm import FakeAnthropic, FakeOpenAI
from switchboard.llm import ChatMessage, CompletionRequest, ProviderError
from switchboard.llm.anthropic import AnthropicProvider

REQUEST = CompletionRequest(instructions="Be brief.", messages=(ChatMessage("user", "Hi"),))


async def test_anthropic_rate_limits_as_the_api_does(serve) -> None:
    fake = FakeAnthropic(api_key="sk-ant-test", retry_after=7)
    url = await serve(fake.app())
    fake.rate_limit(times=2)
    async with anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=url, max_retries=0) as c:
        for _ in range(2):
            with pytest.raises(anthropic.RateLimitError) as limited:
                await c.messages.create(
                    model="claude-test", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
                )
            assert limited.value.response.headers["retry-after"] == "7"
            assert limited.value.body == {
                "type": "error",
                "error": {"type": "rate_limit_error", "message": "the fake was told to fail"},
            }
        answered = await c.messages.create(
            model="claude-test", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        )
    assert answered.content[0].type == "text"


async def test_openai_rate_limits_as_the_api_does(serve) -> None:
    fake = FakeOpenAI(api_key="sk-test")
    url = await serve(fake.app()) + "/v1"
    fake.rate_limit()
    async with openai.AsyncOpenAI(api_key="sk-test", base_url=url, max_retries=0) as client:
        with pytest.raises(openai.RateLimitError) as limited:
            await client.moderations.create(input="hello")
        assert limited.value.response.headers["retry-after"] == "1"
        assert limited.value.code == "rate_limit_exceeded"
        # Any 429 carries the header, also one queued by hand; other failures do not
        fake.fail_with = [(429, "tokens"), (500, "server_error")]
        with pytest.raises(openai.RateLimitError) as limited:
            await client.moderations.create(input="hello")
        assert limited.value.response.headers["retry-after"] == "1"
        with pytest.raises(openai.InternalServerError) as failed:
            await client.moderations.create(input="hello")
        assert "retry-after" not in failed.value.response.headers


async def test_a_slow_fake_makes_a_client_time_out(serve) -> None:
    fake = FakeAnthropic(api_key="sk-ant-test", delay=0.5)
    url = await serve(fake.app())
    impatient = AnthropicProvider("claude-test", api_key="sk-ant-test", base_url=url, timeout=0.1)
    with pytest.raises(ProviderError, match="unreachable"):
        await impatient.complete(REQUEST)
    patient = AnthropicProvider("claude-test", api_key="sk-ant-test", base_url=url, timeout=5)
    assert (await patient.complete(REQUEST)).text == fake.reply
    await impatient.close()
    await patient.close()


async def test_moderation_answers_every_input_in_openais_shape(serve) -> None:
    fake = FakeOpenAI(api_key="sk-test", moderation_triggers={"Despair": "self-harm/intent"})
    url = await serve(fake.app()) + "/v1"
    async with openai.AsyncOpenAI(api_key="sk-test", base_url=url, max_retries=0) as client:
        response = await client.moderations.create(
            input=["pure despair", "despairing", "hello"], model="omni-moderation-latest"
        )
        multimodal = await client.moderations.create(
            input=[{"type": "text", "text": "so much"}, {"type": "text", "text": "DESPAIR"}]
        )
    async with openai.AsyncOpenAI(api_key="wrong", base_url=url, max_retries=0) as stranger:
        with pytest.raises(openai.AuthenticationError):
            await stranger.moderations.create(input="hello")
    flagged, partial_word, clean = response.results
    assert response.model == "omni-moderation-latest"
    assert flagged.flagged
    assert flagged.categories.self_harm_intent
    assert flagged.categories.self_harm
    assert not flagged.categories.violence
    assert flagged.category_scores.self_harm_intent > 0.9 > flagged.category_scores.violence
    assert not partial_word.flagged  # whole words only
    assert not clean.flagged
    assert [r.flagged for r in multimodal.results] == [True]
