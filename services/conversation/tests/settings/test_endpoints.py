"""Assistant settings, model providers and the platform's AI switch, through the HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import structlog

from switchboard.conversation.app import create_app
from switchboard.conversation.config import ConversationSettings
from switchboard.conversation.settings import service as settings_module
from switchboard.devstack.testkit import in_process
from switchboard.llm import ProviderConfig

SETTINGS = "/v1/assistant/settings"
PLATFORM = "/v1/platform/assistant"

DEFAULTS = {
    "enabled": True,
    "default_persona": "default",
    "assistant_name": None,
    "business_facts": "",
    "sms_max_segments": 2,
    "contact_messages_per_minute": 10,
    "handoff_phrases": [],
    "blocked_phrases": [],
    "routes": {},
    "updated_at": None,
}


def admin(admin_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_key}"}


class TestSettings:
    async def test_a_new_tenant_has_the_defaults(self, tenant, conversation_api, accepted) -> None:
        await accepted(tenant.headers)
        response = await conversation_api.get(SETTINGS, headers=tenant.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert {k: v for k, v in body.items() if k != "platform_enabled"} == DEFAULTS

    async def test_a_patch_changes_only_the_fields_sent(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        # Given a first change
        first = await conversation_api.patch(
            SETTINGS,
            json={"enabled": False, "sms_max_segments": 3, "assistant_name": "  Ada  "},
            headers=tenant.headers,
        )
        assert first.status_code == 200, first.text
        # When a second one changes other fields
        second = await conversation_api.patch(
            SETTINGS,
            json={
                "business_facts": "Open 9 to 5, Monday to Friday.",
                "contact_messages_per_minute": 600,
                "handoff_phrases": ["manager", " a real person "],
                "blocked_phrases": ["lawsuit"],
                "routes": {"chat": ["offline"], "summary": ["offline"]},
            },
            headers=tenant.headers,
        )
        assert second.status_code == 200, second.text
        # Then both are kept, as stored
        stored = (await conversation_api.get(SETTINGS, headers=tenant.headers)).json()
        assert stored == second.json()
        assert stored["updated_at"] is not None
        assert {k: v for k, v in stored.items() if k not in ("platform_enabled", "updated_at")} == {
            "enabled": False,
            "default_persona": "default",
            "assistant_name": "Ada",
            "business_facts": "Open 9 to 5, Monday to Friday.",
            "sms_max_segments": 3,
            "contact_messages_per_minute": 600,
            "handoff_phrases": ["manager", "a real person"],
            "blocked_phrases": ["lawsuit"],
            "routes": {"chat": ["offline"], "summary": ["offline"]},
        }

    async def test_null_clears_the_name_and_empty_routes_restore_the_platforms(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        await conversation_api.patch(
            SETTINGS,
            json={"assistant_name": "Ada", "routes": {"chat": ["offline"]}},
            headers=tenant.headers,
        )
        cleared = await conversation_api.patch(
            SETTINGS, json={"assistant_name": None, "routes": {}}, headers=tenant.headers
        )
        assert (cleared.json()["assistant_name"], cleared.json()["routes"]) == (None, {})

    async def test_the_default_persona_may_be_the_tenants_own(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        created = await conversation_api.put(
            "/v1/personas/concierge",
            json={"name": "Concierge", "instructions": "Be formal."},
            headers=tenant.headers,
        )
        assert created.status_code == 200, created.text
        chosen = await conversation_api.patch(
            SETTINGS, json={"default_persona": "concierge"}, headers=tenant.headers
        )
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["default_persona"] == "concierge"

    async def test_an_unknown_persona_is_refused_by_name(
        self, tenant, new_tenant, conversation_api, accepted
    ) -> None:
        # Another tenant's persona is as unknown as one that never existed
        other = await new_tenant()
        await accepted(other.headers)
        await conversation_api.put(
            "/v1/personas/theirs",
            json={"name": "Theirs", "instructions": "Be theirs."},
            headers=other.headers,
        )
        await accepted(tenant.headers)
        for slug in ("nobody", "theirs"):
            response = await conversation_api.patch(
                SETTINGS, json={"default_persona": slug}, headers=tenant.headers
            )
            assert response.status_code == 422, response.text
            (error,) = response.json()["detail"]
            assert error["loc"] == ["body", "default_persona"]
            assert repr(slug) in error["msg"]
            assert "default" in error["msg"]
        stored = (await conversation_api.get(SETTINGS, headers=tenant.headers)).json()
        assert stored["default_persona"] == "default"

    async def test_a_route_naming_an_unknown_provider_is_refused_with_the_known_ones(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        response = await conversation_api.patch(
            SETTINGS,
            json={"routes": {"chat": ["offline", "gpt-9"], "summary": ["offline"]}},
            headers=tenant.headers,
        )
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "routes", "chat"]
        assert "'gpt-9'" in error["msg"]
        providers = await conversation_api.get("/v1/assistant/providers", headers=tenant.headers)
        for known in providers.json():
            assert known["name"] in error["msg"]
        stored = (await conversation_api.get(SETTINGS, headers=tenant.headers)).json()
        assert stored["routes"] == {}

    @pytest.mark.parametrize(
        "change",
        [
            {"sms_max_segments": 0},
            {"sms_max_segments": 11},
            {"contact_messages_per_minute": 0},
            {"contact_messages_per_minute": 601},
            {"business_facts": "x" * 8001},
            {"handoff_phrases": [""]},
            {"handoff_phrases": ["   "]},
            {"blocked_phrases": [f"word {i}" for i in range(101)]},
            {"blocked_phrases": "lawsuit"},
            {"routes": {"jokes": ["offline"]}},
            {"routes": {"chat": []}},
            {"routes": {"chat": "offline"}},
            {"routes": {"chat": ["offline", "offline"]}},
            {"enabled": None},
            {"enabled": "maybe"},
            {"enabled": "off"},
            {"enabled": 0},
            {"default_persona": "Not A Slug"},
            {"enable": False},
            {"assistant_name": "x" * 101},
        ],
    )
    async def test_an_invalid_change_is_a_422_and_changes_nothing(
        self, change, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        response = await conversation_api.patch(SETTINGS, json=change, headers=tenant.headers)
        assert response.status_code == 422, response.text
        stored = (await conversation_api.get(SETTINGS, headers=tenant.headers)).json()
        assert stored["updated_at"] is None

    async def test_the_limits_themselves_are_accepted(
        self, tenant, conversation_api, accepted
    ) -> None:
        await accepted(tenant.headers)
        response = await conversation_api.patch(
            SETTINGS,
            json={
                "sms_max_segments": 10,
                "contact_messages_per_minute": 1,
                "business_facts": "x" * 8000,
                "handoff_phrases": [f"phrase {i}" for i in range(100)],
                "routes": {purpose: ["offline"] for purpose in ("chat", "moderation")},
            },
            headers=tenant.headers,
        )
        assert response.status_code == 200, response.text

    async def test_a_read_key_reads_but_cannot_change_them(
        self, tenant, conversation_api, key_with
    ) -> None:
        reader = await key_with(tenant, "messages:read", "messages:write")
        assert (await conversation_api.get(SETTINGS, headers=reader)).status_code == 200
        refused = await conversation_api.patch(SETTINGS, json={"enabled": False}, headers=reader)
        assert refused.status_code == 403
        stored = (await conversation_api.get(SETTINGS, headers=tenant.headers)).json()
        assert stored["enabled"] is True

    async def test_the_platform_admin_has_no_tenant_settings(
        self, admin_key, conversation_api
    ) -> None:
        response = await conversation_api.get(SETTINGS, headers=admin(admin_key))
        assert response.status_code == 404


CHAIN = [
    ProviderConfig(provider="anthropic", name="claude", model="claude-x", api_key="sk-ant-secret"),
    ProviderConfig(
        provider="openai_compatible",
        name="local",
        model="llama",
        base_url="http://user:hunter2@127.0.0.1:9/v1",
    ),
    ProviderConfig(provider="offline"),
]


@pytest.fixture(scope="module")
async def chained_api(platform_env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The conversation app of a deployment with a chain of three providers."""
    app = create_app(ConversationSettings(llm_chain=CHAIN))
    async with in_process(app, "conversation-chained") as client:
        yield client


class TestProviders:
    async def test_the_configured_providers_are_listed_without_their_keys(
        self, tenant, chained_api, poll
    ) -> None:
        async def listed() -> httpx.Response | None:
            response = await chained_api.get("/v1/assistant/providers", headers=tenant.headers)
            return response if response.status_code == 200 else None

        response = await poll(listed)
        assert response.json() == [
            {"name": "claude", "provider": "anthropic", "model": "claude-x"},
            {"name": "local", "provider": "openai_compatible", "model": "llama"},
            {"name": "offline", "provider": "offline", "model": "offline"},
        ]
        assert "secret" not in response.text
        assert "hunter2" not in response.text

    async def test_routes_may_name_exactly_those_providers(self, tenant, chained_api, poll) -> None:
        async def patched(routes: dict[str, list[str]]) -> httpx.Response:
            return await chained_api.patch(
                SETTINGS, json={"routes": routes}, headers=tenant.headers
            )

        async def accepted_here() -> bool:
            response = await chained_api.get(SETTINGS, headers=tenant.headers)
            return response.status_code == 200

        await poll(accepted_here)
        ok = await patched({"chat": ["local", "claude"], "summary": ["offline"]})
        assert ok.status_code == 200, ok.text
        assert ok.json()["routes"] == {"chat": ["local", "claude"], "summary": ["offline"]}
        refused = await patched({"moderation": ["claude", "gpt"]})
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["detail"]
        assert error["loc"] == ["body", "routes", "moderation"]
        assert error["msg"] == (
            "Unknown provider 'gpt'; the configured providers are: claude, local, offline."
        )


@pytest.fixture
async def switch_restored(admin_key, conversation_api) -> AsyncIterator[None]:
    """The platform switch is global: whatever a test does, it is on again afterwards."""
    yield
    restored = await conversation_api.put(
        PLATFORM, json={"enabled": True}, headers=admin(admin_key)
    )
    assert restored.status_code == 200, restored.text


class TestPlatformSwitch:
    async def test_it_is_on_until_the_platform_admin_turns_it_off(
        self, tenant, admin_key, conversation_api, accepted, monkeypatch, switch_restored
    ) -> None:
        await accepted(tenant.headers)
        before = (await conversation_api.get(PLATFORM, headers=tenant.headers)).json()
        assert before["enabled"] is True
        logs = structlog.testing.CapturingLogger()
        monkeypatch.setattr(settings_module, "log", logs)
        try:
            # When the platform admin turns it off
            off = await conversation_api.put(
                PLATFORM,
                json={"enabled": False, "reason": "provider incident"},
                headers=admin(admin_key),
            )
            assert off.status_code == 200, off.text
            # Then every reader sees it off, with why, and so do the tenant's settings
            seen = (await conversation_api.get(PLATFORM, headers=tenant.headers)).json()
            assert (seen["enabled"], seen["reason"]) == (False, "provider incident")
            assert seen["updated_at"] is not None
            settings = (await conversation_api.get(SETTINGS, headers=tenant.headers)).json()
            assert (settings["platform_enabled"], settings["enabled"]) == (False, True)
        finally:
            on = await conversation_api.put(
                PLATFORM, json={"enabled": True}, headers=admin(admin_key)
            )
        assert on.status_code == 200, on.text
        assert (on.json()["enabled"], on.json()["reason"]) == (True, None)
        # And each change was logged with who made it
        changes = [c.kwargs for c in logs.calls if c.args == ("platform.ai_switch_changed",)]
        assert [(c["by"], c["enabled"], c["was_enabled"]) for c in changes] == [
            ("admin", False, True),
            ("admin", True, False),
        ]

    async def test_only_the_platform_admin_throws_it(
        self, tenant, conversation_api, accepted, switch_restored
    ) -> None:
        await accepted(tenant.headers)
        refused = await conversation_api.put(
            PLATFORM, json={"enabled": False}, headers=tenant.headers
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        still = (await conversation_api.get(PLATFORM, headers=tenant.headers)).json()
        assert still["enabled"] is True

    @pytest.mark.parametrize(
        "body", [{}, {"enabled": None}, {"enabled": "off"}, {"enabled": 0}, {"on": False}]
    )
    async def test_a_malformed_switch_is_a_422(
        self, body, admin_key, conversation_api, switch_restored
    ) -> None:
        response = await conversation_api.put(PLATFORM, json=body, headers=admin(admin_key))
        assert response.status_code == 422, response.text
        seen = await conversation_api.get(PLATFORM, headers=admin(admin_key))
        assert seen.json()["enabled"] is True
