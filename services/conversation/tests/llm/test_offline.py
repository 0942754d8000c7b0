"""The offline provider: deterministic, labelled, and honest about what it counted."""

from __future__ import annotations

from switchboard.conversation.llm import ChatMessage, CompletionRequest, OfflineProvider


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
