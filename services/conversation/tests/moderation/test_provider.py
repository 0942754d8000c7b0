"""The provider check through the official OpenAI SDK against the fake served over real HTTP,
and the combined moderator: local rules always, the provider when configured, failing open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from switchboard.conversation.moderation import (
    LOCAL,
    Category,
    Moderator,
    OpenAIModeration,
)
from switchboard.conversation.moderation.openai import DEFAULT_MODEL
from switchboard.devstack.fake_llm import FakeOpenAI
from switchboard.llm.errors import ProviderError

TRIGGERS = {
    "despair": "self-harm/intent",
    "clobber": "harassment/threatening",
    "zorp": "brand-new/category",
}


@pytest.fixture
async def fake(serve) -> tuple[FakeOpenAI, str]:
    fake = FakeOpenAI(api_key="sk-test", moderation_triggers=TRIGGERS)
    return fake, await serve(fake.app()) + "/v1"


@pytest.fixture
async def provider(fake) -> AsyncIterator[OpenAIModeration]:
    _, url = fake
    provider = OpenAIModeration(api_key="sk-test", base_url=url, timeout=2)
    yield provider
    await provider.close()


class TestOpenAIModeration:
    async def test_a_flagged_text_gets_a_finding_per_category(self, fake, provider) -> None:
        fake_api, _ = fake
        findings = await provider.check("Nothing but despair today")
        # The subcategory and its parent, as the real models answer
        assert {(f.category, f.source, f.reason) for f in findings} == {
            (Category.SELF_HARM, "openai", "self-harm (0.97)"),
            (Category.SELF_HARM, "openai", "self-harm/intent (0.97)"),
        }
        [sent] = fake_api.requests
        assert sent == {"input": "Nothing but despair today", "model": DEFAULT_MODEL}

    async def test_a_threat_counts_as_harassment_and_violence(self, provider) -> None:
        findings = await provider.check("I will clobber you")
        assert {f.category for f in findings} == {Category.HARASSMENT, Category.VIOLENCE}

    async def test_a_category_this_code_does_not_know_is_kept_as_other(self, provider) -> None:
        findings = await provider.check("zorp")
        assert {(f.category, f.reason) for f in findings} == {
            (Category.OTHER, "brand-new (0.97)"),
            (Category.OTHER, "brand-new/category (0.97)"),
        }

    async def test_a_clean_text_has_no_findings(self, provider) -> None:
        assert await provider.check("Are you open on Sunday?") == ()

    async def test_the_model_is_configurable(self, fake) -> None:
        fake_api, url = fake
        provider = OpenAIModeration(api_key="sk-test", base_url=url, model="text-moderation-007")
        await provider.check("hello")
        await provider.close()
        assert fake_api.requests[0]["model"] == "text-moderation-007"

    @pytest.mark.parametrize(
        ("status", "kind", "retryable"),
        [
            (500, "server_error", True),
            (503, "server_error", True),
            (400, "invalid_request_error", False),
        ],
    )
    async def test_an_error_becomes_a_provider_error(
        self, fake, provider, status: int, kind: str, retryable: bool
    ) -> None:
        fake_api, _ = fake
        fake_api.fail_with = [(status, kind)]
        with pytest.raises(ProviderError) as failed:
            await provider.check("hello")
        assert (failed.value.provider, failed.value.retryable) == ("openai", retryable)
        assert str(failed.value).startswith(f"openai: {status}")

    async def test_a_bad_key_is_refused_for_good(self, fake) -> None:
        _, url = fake
        provider = OpenAIModeration(api_key="wrong", base_url=url)
        with pytest.raises(ProviderError, match="401") as failed:
            await provider.check("hello")
        await provider.close()
        assert not failed.value.retryable

    async def test_a_rate_limit_is_retryable_and_not_retried_by_the_sdk(
        self, fake, provider
    ) -> None:
        fake_api, _ = fake
        fake_api.rate_limit(times=1)
        with pytest.raises(ProviderError, match="429") as failed:
            await provider.check("hello")
        assert failed.value.retryable
        assert len(fake_api.requests) == 1  # max_retries=0: the caller decides
        assert await provider.check("hello") == ()

    async def test_a_slow_endpoint_times_out(self, fake) -> None:
        fake_api, url = fake
        fake_api.delay = 0.5
        provider = OpenAIModeration(api_key="sk-test", base_url=url, timeout=0.1)
        with pytest.raises(ProviderError, match="unreachable") as failed:
            await provider.check("hello")
        await provider.close()
        assert failed.value.retryable

    async def test_an_unreachable_endpoint(self) -> None:
        provider = OpenAIModeration(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
        with pytest.raises(ProviderError, match="unreachable"):
            await provider.check("hello")
        await provider.close()


class TestModerator:
    async def test_local_rules_alone_when_no_provider_is_configured(self) -> None:
        moderator = Moderator()
        verdict = await moderator.check("I'll kill you", direction="outbound")
        assert (verdict.flagged, verdict.action, verdict.sources) == (True, "block", (LOCAL,))
        assert verdict.categories == {Category.VIOLENCE}
        clean = await moderator.check("See you at 10!", direction="outbound")
        assert (clean.flagged, clean.action, clean.findings) == (False, "allow", ())
        await moderator.close()

    async def test_the_provider_catches_what_the_rules_do_not(self, fake) -> None:
        fake_api, url = fake
        moderator = Moderator(OpenAIModeration(api_key="sk-test", base_url=url))
        inbound = await moderator.check("Nothing but despair today", direction="inbound")
        assert (inbound.action, inbound.sources) == ("review", ("openai",))
        assert inbound.categories == {Category.SELF_HARM}
        outbound = await moderator.check("We will clobber them", direction="outbound")
        assert outbound.action == "block"
        assert len(fake_api.requests) == 2
        await moderator.close()

    async def test_the_provider_is_not_asked_when_the_rules_already_flagged(
        self, fake, provider
    ) -> None:
        fake_api, _ = fake
        verdict = await Moderator(provider).check(
            "Your card 4111 1111 1111 1111", direction="outbound"
        )
        assert verdict.categories == {Category.PAYMENT_CARD}
        assert fake_api.requests == []

    async def test_the_tenants_phrases_are_checked(self, provider) -> None:
        verdict = await Moderator(provider).check(
            "Try Acme Corp", direction="outbound", extra_phrases=["acme corp"]
        )
        assert (verdict.categories, verdict.action) == ({Category.BLOCKED_PHRASE}, "block")

    async def test_an_empty_text_is_not_sent_to_the_provider(self, fake, provider) -> None:
        fake_api, _ = fake
        verdict = await Moderator(provider).check("  \n", direction="inbound")
        assert not verdict.flagged
        assert fake_api.requests == []

    async def test_a_failing_provider_fails_open_to_the_local_rules_and_says_so(
        self, fake, provider
    ) -> None:
        # Given the moderation endpoint down
        fake_api, _ = fake
        fake_api.fail_with = [(503, "server_error")] * 2
        moderator = Moderator(provider)
        # When a text it would have flagged, and a harmless one, are checked
        with capture_logs() as logs:
            missed = await moderator.check("Nothing but despair today", direction="inbound")
            clean = await moderator.check("Are you open today?", direction="outbound")
        # Then the rules alone decided, and the failure is in the verdict and the log
        for verdict in (missed, clean):
            assert (verdict.flagged, verdict.action) == (False, "allow")
            assert verdict.provider_error is not None
            assert verdict.provider_error.startswith("openai: 503")
        [failed, _] = [entry for entry in logs if entry["event"] == "moderation.provider_failed"]
        assert (failed["provider"], failed["retryable"], failed["log_level"]) == (
            "openai",
            True,
            "warning",
        )
        assert "despair" not in str(failed)  # the text itself is never logged

    async def test_the_local_rules_still_block_while_the_provider_is_down(
        self, fake, provider
    ) -> None:
        fake_api, _ = fake
        fake_api.fail_with = [(500, "server_error")]
        verdict = await Moderator(provider).check("key AKIAIOSFODNN7EXAMPLE", direction="outbound")
        assert (verdict.action, verdict.categories) == ("block", {Category.CREDENTIALS})

    async def test_a_verdict_as_a_record(self, fake, provider) -> None:
        verdict = await Moderator(provider).check("I'll kill you", direction="inbound")
        assert verdict.as_record() == {
            "direction": "inbound",
            "action": "review",
            "categories": ["violence"],
            "findings": [
                {"category": "violence", "source": "local", "reason": 'threat: "I\'ll kill you"'}
            ],
            "provider_error": None,
        }
