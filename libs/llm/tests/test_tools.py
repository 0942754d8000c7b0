"""Tool calling through the official SDKs against the local fakes, offline, and in a chain."""

from __future__ import annotations

import pytest

from switchboard.devstack.fake_llm import FakeAnthropic, FakeOpenAI
from switchboard.llm import (
    ChatMessage,
    CompletionRequest,
    OfflineProvider,
    Tool,
    ToolCall,
    ToolResult,
)
from switchboard.llm.anthropic import AnthropicProvider
from switchboard.llm.fallback import FallbackChain
from switchboard.llm.openai import OpenAIProvider

AUDIENCE = Tool(
    name="choose_audience",
    description="Pick who the campaign goes to.",
    parameters={
        "type": "object",
        "properties": {"segment": {"type": "string"}},
        "required": ["segment"],
    },
    offline_arguments={"segment": "everyone"},
)
DRAFT = Tool(
    name="draft_message",
    description="Write the campaign's message.",
    parameters={
        "type": "object",
        "properties": {"body": {"type": "string"}},
        "required": ["body"],
    },
    offline_arguments={"body": "Hello from the offline agent."},
)
ASK = ChatMessage("user", "Plan a Sunday sale campaign.")


def plan(tool_choice: str = "any", *messages: ChatMessage) -> CompletionRequest:
    return CompletionRequest(
        instructions="You plan campaigns.",
        messages=(ASK, *messages),
        tools=(AUDIENCE, DRAFT),
        tool_choice=tool_choice,
    )


@pytest.fixture
async def anthropic_fake(serve) -> tuple[FakeAnthropic, AnthropicProvider]:
    fake = FakeAnthropic(api_key="sk-ant-test")
    url = await serve(fake.app())
    return fake, AnthropicProvider("claude-test", api_key="sk-ant-test", base_url=url, timeout=5)


@pytest.fixture
async def openai_fake(serve) -> tuple[FakeOpenAI, OpenAIProvider]:
    fake = FakeOpenAI(api_key="sk-test")
    url = await serve(fake.app()) + "/v1"
    return fake, OpenAIProvider("gpt-test", api_key="sk-test", base_url=url, timeout=5)


async def no_wait(_: float) -> None:
    return None


class TestAnthropic:
    async def test_a_tool_call_comes_back_and_its_result_goes_back_in_blocks(
        self, anthropic_fake
    ) -> None:
        # Given a model scripted to call a tool, then to answer in text
        fake, claude = anthropic_fake
        fake.turns = [[("choose_audience", {"segment": "regulars"})], "Planned."]
        # When it is asked with two tools, any of which it must call
        completion = await claude.complete(plan("any"))
        # Then the call comes back with its arguments as an object
        [call] = completion.tool_calls
        assert (call.name, call.arguments) == ("choose_audience", {"segment": "regulars"})
        assert call.id.startswith("toolu_")
        assert completion.text == ""
        sent = fake.requests[0]
        assert sent["tools"] == [
            {
                "name": "choose_audience",
                "description": AUDIENCE.description,
                "input_schema": dict(AUDIENCE.parameters),
            },
            {
                "name": "draft_message",
                "description": DRAFT.description,
                "input_schema": dict(DRAFT.parameters),
            },
        ]
        assert sent["tool_choice"] == {"type": "any"}
        # When the call and its result are sent back
        answered = await claude.complete(
            plan(
                "auto",
                ChatMessage("assistant", "Choosing.", tool_calls=(call,)),
                ChatMessage("user", "", tool_results=(ToolResult(call.id, "412 customers"),)),
            )
        )
        # Then they go in Anthropic's blocks, the result naming the call
        assert answered.text == "Planned."
        assert answered.tool_calls == ()
        _, assistant, user = fake.requests[1]["messages"]
        assert assistant == {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Choosing."},
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": "choose_audience",
                    "input": {"segment": "regulars"},
                },
            ],
        }
        assert user == {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": call.id,
                    "content": "412 customers",
                    "is_error": False,
                }
            ],
        }
        assert fake.requests[1]["tool_choice"] == {"type": "auto"}

    async def test_a_tool_forced_by_name(self, anthropic_fake) -> None:
        fake, claude = anthropic_fake
        fake.respond = lambda body: [(body["tool_choice"]["name"], {"body": "Sale!"})]
        completion = await claude.complete(plan("draft_message"))
        assert fake.requests[0]["tool_choice"] == {"type": "tool", "name": "draft_message"}
        assert [(c.name, c.arguments) for c in completion.tool_calls] == [
            ("draft_message", {"body": "Sale!"})
        ]

    async def test_without_tools_nothing_about_tools_is_sent(self, anthropic_fake) -> None:
        fake, claude = anthropic_fake
        await claude.complete(CompletionRequest(instructions="Hi.", messages=(ASK,)))
        assert "tools" not in fake.requests[0]
        assert "tool_choice" not in fake.requests[0]


class TestOpenAI:
    async def test_a_tool_call_comes_back_and_its_result_goes_back_as_a_tool_message(
        self, openai_fake
    ) -> None:
        fake, gpt = openai_fake
        fake.turns = [[("choose_audience", {"segment": "regulars"})], "Planned."]
        completion = await gpt.complete(plan("any"))
        [call] = completion.tool_calls
        assert (call.name, call.arguments) == ("choose_audience", {"segment": "regulars"})
        assert call.id.startswith("call_")
        assert completion.text == ""
        sent = fake.requests[0]
        assert sent["tools"][0] == {
            "type": "function",
            "function": {
                "name": "choose_audience",
                "description": AUDIENCE.description,
                "parameters": dict(AUDIENCE.parameters),
            },
        }
        assert [t["function"]["name"] for t in sent["tools"]] == [
            "choose_audience",
            "draft_message",
        ]
        assert sent["tool_choice"] == "required"
        answered = await gpt.complete(
            plan(
                "auto",
                ChatMessage("assistant", "", tool_calls=(call,)),
                ChatMessage(
                    "user", "Keep it short.", tool_results=(ToolResult(call.id, "412 customers"),)
                ),
            )
        )
        assert answered.text == "Planned."
        assert fake.requests[1]["messages"][2:] == [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {
                            "name": "choose_audience",
                            "arguments": '{"segment": "regulars"}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call.id, "content": "412 customers"},
            {"role": "user", "content": "Keep it short."},
        ]
        assert fake.requests[1]["tool_choice"] == "auto"

    async def test_a_tool_forced_by_name(self, openai_fake) -> None:
        fake, gpt = openai_fake
        fake.turns = [[("draft_message", {"body": "Sale!"})]]
        completion = await gpt.complete(plan("draft_message"))
        assert fake.requests[0]["tool_choice"] == {
            "type": "function",
            "function": {"name": "draft_message"},
        }
        assert completion.tool_calls[0].arguments == {"body": "Sale!"}

    async def test_malformed_arguments_come_back_as_their_raw_text(self, openai_fake) -> None:
        fake, gpt = openai_fake
        fake.turns = [[("draft_message", '{"body": "Sale!')]]
        completion = await gpt.complete(plan("any"))
        assert completion.tool_calls[0].arguments == '{"body": "Sale!'

    async def test_without_tools_nothing_about_tools_is_sent(self, openai_fake) -> None:
        fake, gpt = openai_fake
        await gpt.complete(CompletionRequest(instructions="Hi.", messages=(ASK,)))
        assert "tools" not in fake.requests[0]
        assert "tool_choice" not in fake.requests[0]


class TestOffline:
    async def test_the_named_tool_is_called_with_its_offline_arguments(self) -> None:
        completion = await OfflineProvider().complete(plan("choose_audience"))
        assert completion.tool_calls == (
            ToolCall(id="offline-1", name="choose_audience", arguments={"segment": "everyone"}),
        )
        assert completion.text == ""
        assert completion.input_tokens > 0
        assert completion == await OfflineProvider().complete(plan("choose_audience"))

    async def test_any_calls_the_last_tool_and_ids_count_the_calls(self) -> None:
        first = await OfflineProvider().complete(plan("any"))
        [call] = first.tool_calls
        assert (call.id, call.name, call.arguments) == (
            "offline-1",
            "draft_message",
            {"body": "Hello from the offline agent."},
        )
        followed = plan(
            "any",
            ChatMessage("assistant", "", tool_calls=(call,)),
            ChatMessage("user", "", tool_results=(ToolResult(call.id, "ok"),)),
        )
        assert (await OfflineProvider().complete(followed)).tool_calls[0].id == "offline-2"

    async def test_auto_answers_in_text(self) -> None:
        completion = await OfflineProvider().complete(plan("auto"))
        assert completion.tool_calls == ()
        assert completion.text.startswith("[offline assistant]")

    async def test_tools_count_in_the_input_estimate(self) -> None:
        bare = CompletionRequest(instructions="You plan campaigns.", messages=(ASK,))
        with_tools = await OfflineProvider().complete(plan("auto"))
        assert with_tools.input_tokens > (await OfflineProvider().complete(bare)).input_tokens


class TestFallback:
    async def test_a_failing_provider_falls_back_to_the_other_api_s_tool_calls(
        self, anthropic_fake, openai_fake
    ) -> None:
        anthropic, claude = anthropic_fake
        openai, gpt = openai_fake
        anthropic.fail_with = [(500, "api_error")]
        anthropic.turns = [[("choose_audience", {"segment": "unused"})]]
        openai.turns = [[("choose_audience", {"segment": "regulars"})]]
        chain = FallbackChain([claude, gpt], retries=0, sleep=no_wait)
        completion = await chain.complete(plan("choose_audience"))
        assert completion.provider == "openai"
        assert completion.fallback[0].startswith("anthropic: 500")
        [call] = completion.tool_calls
        assert (call.name, call.arguments) == ("choose_audience", {"segment": "regulars"})
        assert len(anthropic.turns) == 1  # a failure does not use up a turn
