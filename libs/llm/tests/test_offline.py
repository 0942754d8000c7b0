"""The offline provider: deterministic, labelled, and honest about what it counted."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from switchboard.llm import (
    ChatMessage,
    CompletionRequest,
    OfflineProvider,
    ProviderConfig,
    create_providers,
)


def request(*texts: str) -> CompletionRequest:
    roles = ("user", "assistant")
    messages = tuple(ChatMessage(role=roles[i % 2], text=t) for i, t in enumerate(texts))
    return CompletionRequest(instructions="Be brief.", messages=messages)


class TestComplete:
    async def test_the_same_request_gets_the_same_completion(self) -> None:
        # Given two providers and one conversation
        conversation = request("hello", "hi there", "when do you open?")
        # When both complete it
        first = await OfflineProvider().complete(conversation)
        second = await OfflineProvider().complete(conversation)
        # Then the completions are identical
        assert first == second

    async def test_the_reply_is_labelled_and_quotes_the_last_user_message(self) -> None:
        completion = await OfflineProvider().complete(request("hello", "hi", "when do you open?"))
        assert completion.text.startswith("[offline assistant]")
        assert '"when do you open?"' in completion.text
        assert "message 2 of this conversation" in completion.text
        assert (completion.provider, completion.model) == ("offline", "offline")

    async def test_a_long_message_is_quoted_short(self) -> None:
        completion = await OfflineProvider().complete(request("x" * 1000))
        assert len(completion.text) < 300
        assert "…" in completion.text

    async def test_tokens_are_counted_and_grow_with_the_input(self) -> None:
        short = await OfflineProvider().complete(request("hi"))
        long = await OfflineProvider().complete(request("hi " * 200))
        assert short.input_tokens > 0
        assert short.output_tokens > 0
        assert long.input_tokens > short.input_tokens + 100


class TestSimulatedLatency:
    async def test_a_latency_delays_the_answer_and_leaves_it_unchanged(self) -> None:
        # Given an offline provider configured to take 50 ms per answer
        slow = OfflineProvider(latency_seconds=0.05)
        loop = asyncio.get_running_loop()
        # When it completes a request
        started = loop.time()
        completion = await slow.complete(request("hello"))
        # Then the answer took at least that long and is the same as without the latency
        assert loop.time() - started >= 0.045
        assert completion == await OfflineProvider().complete(request("hello"))

    def test_the_chain_configures_the_latency(self) -> None:
        config = ProviderConfig.model_validate({"provider": "offline", "latency_seconds": 2})
        (provider,) = create_providers([config])
        assert isinstance(provider, OfflineProvider)
        assert provider.latency_seconds == 2

    def test_a_negative_latency_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            ProviderConfig.model_validate({"provider": "offline", "latency_seconds": -1})
