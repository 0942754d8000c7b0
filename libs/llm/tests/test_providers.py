"""Anthropic and OpenAI through their official SDKs against local fakes, and the fallback chain."""

from __future__ import annotations

import pytest

from switchboard.devstack.fake_llm import FakeAnthropic, FakeOpenAI
from switchboard.llm import (
    ChatMessage,
    CompletionRequest,
    ProviderConfig,
    create_chain,
)
from switchboard.llm.anthropic import AnthropicProvider
from switchboard.llm.errors import AllProvidersFailed
from switchboard.llm.fallback import FallbackChain
from switchboard.llm.openai import OpenAIProvider

REQUEST = CompletionRequest(
    instructions="You are the shop's assistant.",
    messages=(ChatMessage("user", "Are you open on Sunday?"),),
    max_output_tokens=120,
)


@pytest.fixture
async def anthropic_fake(serve) -> tuple[FakeAnthropic, str]:
    fake = FakeAnthropic(api_key="sk-ant-test", reply="Yes, from 10 to 4.")
    return fake, await serve(fake.app())


@pytest.fixture
async def openai_fake(serve) -> tuple[FakeOpenAI, str]:
    fake = FakeOpenAI(api_key="sk-test", reply="We open at 10 on Sundays.")
    return fake, await serve(fake.app())


def claude(url: str, key: str = "sk-ant-test") -> AnthropicProvider:
    return AnthropicProvider("claude-test", api_key=key, base_url=url, timeout=5)


def gpt(url: str, key: str = "sk-test") -> OpenAIProvider:
    return OpenAIProvider("gpt-test", api_key=key, base_url=url + "/v1", timeout=5)


async def no_wait(_: float) -> None:
    return None


class TestProviders:
    async def test_anthropic_answers_with_its_usage(self, anthropic_fake) -> None:
        fake, url = anthropic_fake
        completion = await claude(url).complete(REQUEST)
        assert (completion.text, completion.provider, completion.model) == (
            "Yes, from 10 to 4.",
            "anthropic",
            "claude-test",
        )
        assert completion.input_tokens > 0
        assert completion.output_tokens == 5
        [sent] = fake.requests
        assert sent["system"] == REQUEST.instructions
        assert sent["messages"] == [{"role": "user", "content": "Are you open on Sunday?"}]
        assert sent["max_tokens"] == 120

    async def test_openai_and_compatible_endpoints_answer_with_their_usage(
        self, openai_fake
    ) -> None:
        fake, url = openai_fake
        compatible = OpenAIProvider(
            "llama3", api_key="sk-test", base_url=url + "/v1", name="ollama"
        )
        for provider in (gpt(url), compatible):
            completion = await provider.complete(REQUEST)
            assert completion.text == "We open at 10 on Sundays."
            assert completion.output_tokens == 6
        assert [r["model"] for r in fake.requests] == ["gpt-test", "llama3"]
        assert fake.requests[0]["messages"][0] == {
            "role": "system",
            "content": REQUEST.instructions,
        }


class TestFallback:
    async def test_an_overloaded_provider_is_retried_then_the_next_one_answers(
        self, anthropic_fake, openai_fake
    ) -> None:
        # Given Anthropic overloaded for every try, and OpenAI well
        anthropic, a_url = anthropic_fake
        _, o_url = openai_fake
        anthropic.fail_with = [(529, "overloaded_error")] * 3
        chain = FallbackChain([claude(a_url), gpt(o_url)], retries=2, sleep=no_wait)
        # When the chain is asked
        completion = await chain.complete(REQUEST)
        # Then Anthropic was tried three times, and OpenAI answered, with the reasons recorded
        assert len(anthropic.requests) == 3
        assert completion.provider == "openai"
        assert len(completion.fallback) == 3
        assert all(r.startswith("anthropic: 529") for r in completion.fallback)

    async def test_a_passing_overload_is_retried_on_the_same_provider(
        self, anthropic_fake, openai_fake
    ) -> None:
        anthropic, a_url = anthropic_fake
        openai, o_url = openai_fake
        anthropic.fail_with = [(429, "rate_limit_error")]
        chain = FallbackChain([claude(a_url), gpt(o_url)], sleep=no_wait)
        completion = await chain.complete(REQUEST)
        assert completion.provider == "anthropic"
        assert openai.requests == []

    async def test_a_refusal_for_good_moves_on_at_once(self, anthropic_fake, openai_fake) -> None:
        anthropic, a_url = anthropic_fake
        _, o_url = openai_fake
        chain = FallbackChain([claude(a_url, key="wrong"), gpt(o_url)], sleep=no_wait)
        completion = await chain.complete(REQUEST)
        assert len(anthropic.requests) == 1  # a bad key is not retried
        assert completion.provider == "openai"
        assert completion.fallback[0].startswith("anthropic: 401")

    async def test_a_failing_provider_is_skipped_while_its_circuit_is_open(
        self, anthropic_fake, openai_fake
    ) -> None:
        # Given a chain whose first provider fails twice in a row (breaker at 2 failures)
        anthropic, a_url = anthropic_fake
        _, o_url = openai_fake
        now = [0.0]
        anthropic.fail_with = [(500, "api_error")] * 2
        chain = FallbackChain(
            [claude(a_url), gpt(o_url)],
            retries=1,
            breaker_failures=2,
            breaker_cooldown=30,
            clock=lambda: now[0],
            sleep=no_wait,
        )
        await chain.complete(REQUEST)
        assert len(anthropic.requests) == 2
        # When the chain is asked again within the cooldown, then after it
        skipped = await chain.complete(REQUEST)
        assert len(anthropic.requests) == 2  # not called at all
        assert skipped.fallback == ("anthropic: skipped, failing (circuit open)",)
        now[0] = 31.0
        recovered = await chain.complete(REQUEST)
        # Then it is tried again once the cooldown is over
        assert recovered.provider == "anthropic"
        assert len(anthropic.requests) == 3

    async def test_when_every_provider_fails_the_reasons_say_why(
        self, anthropic_fake, openai_fake
    ) -> None:
        anthropic, a_url = anthropic_fake
        openai, o_url = openai_fake
        anthropic.fail_with = [(500, "api_error")]
        openai.fail_with = [(503, "server_error")]
        chain = FallbackChain([claude(a_url), gpt(o_url)], retries=0, sleep=no_wait)
        with pytest.raises(AllProvidersFailed) as failed:
            await chain.complete(REQUEST)
        assert [r.split(":")[0] for r in failed.value.reasons] == ["anthropic", "openai"]

    async def test_an_unreachable_provider_falls_back(self, openai_fake) -> None:
        _, o_url = openai_fake
        dead = claude("http://127.0.0.1:9")  # nothing listens on the discard port
        completion = await FallbackChain([dead, gpt(o_url)], retries=1, sleep=no_wait).complete(
            REQUEST
        )
        assert completion.provider == "openai"
        assert all("unreachable" in r for r in completion.fallback)


class TestConfiguration:
    def test_a_provider_without_its_key_is_refused_at_start(self) -> None:
        with pytest.raises(ValueError, match="api_key"):
            create_chain([ProviderConfig(provider="anthropic", model="claude-test")])
        with pytest.raises(ValueError, match="base_url"):
            create_chain([ProviderConfig(provider="openai_compatible", model="llama3")])
