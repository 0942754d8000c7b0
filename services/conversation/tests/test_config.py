"""The service's model settings: the default prices, prices from the environment, and a chain
configured as JSON falling back in its order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from switchboard.conversation.config import ConversationSettings
from switchboard.devstack.fake_llm import FakeAnthropic, FakeOpenAI
from switchboard.llm import ChatMessage, CompletionRequest, PriceTable, create_chain

REQUEST = CompletionRequest(
    instructions="You are the shop's assistant.",
    messages=(ChatMessage("user", "Are you open on Sunday?"),),
    max_output_tokens=120,
)


class TestPrices:
    def test_the_offline_model_costs_nothing_by_default(self) -> None:
        prices = PriceTable(ConversationSettings().llm_prices)
        assert prices.cost("offline", input_tokens=5000, output_tokens=700) == Decimal(0)

    def test_prices_come_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(
            "SWITCHBOARD_CONVERSATION_LLM_PRICES",
            '{"offline": {"input_per_million": "0", "output_per_million": "0"},'
            ' "big": {"input_per_million": "3", "output_per_million": "15"}}',
        )
        prices = PriceTable(ConversationSettings().llm_prices)
        assert prices.cost("big", input_tokens=1_000_000, output_tokens=0) == Decimal(3)


class TestChain:
    async def test_a_configured_chain_falls_back_in_its_order(self, serve) -> None:
        anthropic = FakeAnthropic(api_key="sk-ant-test", reply="Yes, from 10 to 4.")
        a_url = await serve(anthropic.app())
        o_url = await serve(FakeOpenAI(api_key="sk-test", reply="We open at 10 on Sundays.").app())
        anthropic.fail_with = [(401, "authentication_error")]
        settings = ConversationSettings.model_validate(
            {
                "llm_chain": [
                    {"provider": "anthropic", "model": "claude-test", "api_key": "sk-ant-test",
                     "base_url": a_url},
                    {"provider": "openai_compatible", "model": "llama3", "base_url": o_url + "/v1",
                     "api_key": "sk-test", "name": "ollama"},
                ]
            }
        )  # fmt: skip
        completion = await create_chain(settings.llm_chain).complete(REQUEST)
        assert (completion.provider, completion.model) == ("ollama", "llama3")
