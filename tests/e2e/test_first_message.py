"""The first message end to end: five services as separate processes, a real broker and database.

A contact texts a tenant's number through a signed Twilio webhook; the assistant's reply reaches
the sandbox transport; conversation, billing and metrics each record their part.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from switchboard.devstack.processes import Platform

WEBHOOK = "/v1/webhooks/twilio/messages"
ACCOUNT_SID = "AC" + "e" * 32


@pytest.fixture(scope="module")
def platform(
    platform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    running = Platform.on_free_ports(platform_env, log_dir=tmp_path_factory.mktemp("logs"))
    try:
        running.start(timeout=90)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


class Tenant:
    def __init__(self, key: str, number: str, token: str) -> None:
        self.key, self.number, self.token = key, number, token
        self.headers = {"Authorization": f"Bearer {key}"}


async def make_tenant(platform: Platform, http: httpx.AsyncClient, admin_key: str) -> Tenant:
    gateway = platform.url("gateway")
    created = await http.post(
        f"{gateway}/v1/tenants",
        json={"name": "Shop"},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    key = created.json()["api_key"]["api_key"]
    number, token = random_number(), secrets.token_hex(16)
    registered = await http.post(
        f"{gateway}/v1/numbers",
        json={"address": number, "twilio": {"account_sid": ACCOUNT_SID, "auth_token": token}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert registered.status_code == 201, registered.text
    return Tenant(key, number, token)


def random_number() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


async def text(
    platform: Platform,
    http: httpx.AsyncClient,
    tenant: Tenant,
    sender: str,
    body: str,
    sid: str | None = None,
) -> httpx.Response:
    form = {
        "MessageSid": sid or "SM" + secrets.token_hex(16),
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": tenant.number,
        "Body": body,
        "NumMedia": "0",
    }
    url = platform.url("gateway") + WEBHOOK
    signature = RequestValidator(tenant.token).compute_signature(url, form)
    return await http.post(url, data=form, headers={"X-Twilio-Signature": signature})


async def eventually(check: Callable[[], Awaitable[Any]], *, within: float = 20.0) -> Any:
    """Poll until `check` returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {within}s: last result {result!r}")
        await asyncio.sleep(0.1)


async def sandbox(
    platform: Platform, http: httpx.AsyncClient, tenant: Tenant, to: str
) -> list[Any]:
    response = await http.get(
        platform.url("gateway") + "/v1/sandbox/messages",
        params={"to": to, "limit": 500},
        headers=tenant.headers,
    )
    return list(response.json())


async def authorised(
    platform: Platform, http: httpx.AsyncClient, service: str, path: str, tenant: Tenant
) -> httpx.Response:
    return await http.get(platform.url(service) + path, headers=tenant.headers)


class TestFirstMessage:
    async def test_a_text_is_answered_and_recorded_by_every_service(
        self, platform: Platform, http: httpx.AsyncClient, admin_key: str
    ) -> None:
        # Given a tenant with a number
        tenant = await make_tenant(platform, http, admin_key)
        contact = random_number()
        # When a contact texts it
        response = await text(platform, http, tenant, contact, "Are you open on Sunday?")
        assert response.status_code == 200
        # Then the assistant's reply is sent (kept by the sandbox transport)
        replies = await eventually(lambda: sandbox(platform, http, tenant, contact))
        assert len(replies) == 1
        assert replies[0]["from_address"] == tenant.number
        assert "offline" in replies[0]["body"].lower()

        # And the conversation holds both turns
        async def transcript() -> list[Any]:
            conversations = await authorised(
                platform, http, "conversation", "/v1/conversations", tenant
            )
            if conversations.status_code != 200 or not conversations.json():
                return []
            conversation_id = conversations.json()[0]["id"]
            detail = await authorised(
                platform, http, "conversation", f"/v1/conversations/{conversation_id}", tenant
            )
            return [turn["role"] for turn in detail.json()["turns"]]

        assert await eventually(transcript) == ["user", "assistant"]

        # And billing has the LLM tokens and the SMS segment
        async def usage_kinds() -> set[str]:
            usage = await authorised(platform, http, "billing", "/v1/usage", tenant)
            if usage.status_code != 200:
                return set()
            kinds = {item["kind"] for item in usage.json()["totals"]}
            return kinds if {"llm_tokens", "sms_segments"} <= kinds else set()

        await eventually(usage_kinds)

        # And metrics counted one message in and one out
        async def counted() -> bool:
            summary = await authorised(platform, http, "metrics", "/v1/analytics/summary", tenant)
            if summary.status_code != 200:
                return False
            metrics = summary.json()["metrics"]
            return bool(
                metrics["messages_in"]["by_dimension"].get("sms") == 1
                and metrics["messages_out"]["total"] == 1
            )

        await eventually(counted)

    async def test_a_duplicate_webhook_gets_one_reply(
        self, platform: Platform, http: httpx.AsyncClient, admin_key: str
    ) -> None:
        tenant = await make_tenant(platform, http, admin_key)
        contact, sid = random_number(), "SM" + secrets.token_hex(16)
        # When Twilio delivers the same webhook three times
        for _ in range(3):
            assert (
                await text(platform, http, tenant, contact, "hello", sid=sid)
            ).status_code == 200
        # Then exactly one reply goes out
        await eventually(lambda: sandbox(platform, http, tenant, contact))
        await asyncio.sleep(1.0)  # room for a wrongful second reply to show up
        assert len(await sandbox(platform, http, tenant, contact)) == 1

    async def test_tenant_b_cannot_read_tenant_a_messages(
        self, platform: Platform, http: httpx.AsyncClient, admin_key: str
    ) -> None:
        a = await make_tenant(platform, http, admin_key)
        b = await make_tenant(platform, http, admin_key)
        await text(platform, http, a, random_number(), "private")
        messages = (await authorised(platform, http, "gateway", "/v1/messages", a)).json()
        message_id = messages[0]["id"]
        assert (
            await authorised(platform, http, "gateway", f"/v1/messages/{message_id}", b)
        ).status_code == 404
        assert (await authorised(platform, http, "gateway", "/v1/messages", b)).json() == []

    async def test_a_revoked_key_stops_working_in_every_service(
        self, platform: Platform, http: httpx.AsyncClient, admin_key: str
    ) -> None:
        tenant = await make_tenant(platform, http, admin_key)
        probes = {
            "gateway": "/v1/messages",
            "conversation": "/v1/conversations",
            "campaigns": "/v1/events",
            "billing": "/v1/usage",
            "metrics": "/v1/analytics/summary",
        }

        async def status_everywhere(expected: int) -> bool:
            for service, path in probes.items():
                if (
                    await authorised(platform, http, service, path, tenant)
                ).status_code != expected:
                    return False
            return True

        await eventually(lambda: status_everywhere(200))
        key_id = tenant.key.removeprefix("sb_").split(".")[0]
        revoked = await http.delete(
            platform.url("gateway") + f"/v1/api-keys/{key_id}", headers=tenant.headers
        )
        assert revoked.status_code == 200
        await eventually(lambda: status_everywhere(401), within=10)


class TestCrashRecovery:
    async def test_a_worker_killed_mid_batch_neither_loses_nor_doubles_replies(
        self, platform: Platform, http: httpx.AsyncClient, admin_key: str
    ) -> None:
        # Given a burst of 60 messages from 60 contacts
        tenant = await make_tenant(platform, http, admin_key)
        contacts = [random_number() for _ in range(60)]
        await asyncio.gather(*(text(platform, http, tenant, c, "hi") for c in contacts[:30]))
        # When the conversation worker is killed while it works, and then restarted
        platform.kill("conversation", "worker")
        await asyncio.gather(*(text(platform, http, tenant, c, "hi") for c in contacts[30:]))
        platform.restart("conversation", "worker")

        # Then every contact gets exactly one reply
        async def replies() -> dict[str, int]:
            response = await http.get(
                platform.url("gateway") + "/v1/sandbox/messages",
                params={"limit": 500},
                headers=tenant.headers,
            )
            counts: dict[str, int] = {}
            for message in response.json():
                counts[message["to_address"]] = counts.get(message["to_address"], 0) + 1
            return counts if len(counts) == len(contacts) else {}

        counts = await eventually(replies, within=40)
        await asyncio.sleep(1.0)
        assert set(counts) == set(contacts)
        assert set(counts.values()) == {1}


class TestQuotas:
    async def test_an_end_user_at_their_plans_limit_gets_one_polite_reply_then_silence(
        self, platform: Platform, http: httpx.AsyncClient, admin_key: str
    ) -> None:
        # Given an end user on a plan of one message a month
        tenant = await make_tenant(platform, http, admin_key)
        contact = random_number()
        billing = platform.url("billing")
        plan = f"one-{secrets.token_hex(3)}"
        created = await http.put(
            f"{billing}/v1/plans/{plan}",
            json={"name": "One message", "price": "0", "messages_monthly": 1},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        assert created.status_code == 200, created.text

        async def subscribed() -> bool:  # the tenant's key reaches billing through `tenants`
            response = await http.put(
                f"{billing}/v1/subscriptions/{contact}",
                json={"plan": plan},
                headers=tenant.headers,
            )
            return response.status_code == 200

        await eventually(subscribed)
        # When they text, the assistant answers, and that reply uses up their allowance
        await text(platform, http, tenant, contact, "Are you open on Sunday?")
        [answer] = await eventually(lambda: sandbox(platform, http, tenant, contact))
        assert "offline" in answer["body"].lower()

        async def used_up() -> bool:
            response = await http.get(
                f"{billing}/v1/quota", params={"contact_address": contact}, headers=tenant.headers
            )
            return response.status_code == 200 and response.json()["remaining"] == {
                "messages": 0,
                "ai_replies": 0,
            }

        await eventually(used_up)

        # Then, once the conversation service has billing's word, the assistant stops: one
        # polite reply, then nothing, however often they text
        async def polite() -> list[Any]:
            await text(platform, http, tenant, contact, "Hello? Anyone there?")
            await asyncio.sleep(1.0)
            sent = await sandbox(platform, http, tenant, contact)
            return [m for m in sent if "can't answer messages right now" in m["body"]]

        await eventually(polite, within=30.0)
        for _ in range(2):
            await text(platform, http, tenant, contact, "Still there?")
        await asyncio.sleep(2.0)
        newest_first = [m["body"] for m in await sandbox(platform, http, tenant, contact)]
        assert sum("can't answer messages right now" in b for b in newest_first) == 1
        assert newest_first[0].startswith("Sorry, our assistant can't answer")
