"""A contact's phone for the assistant's tests: text the tenant, then read what became of the
message in the transcript (the source of truth: a reply is queued in the same transaction)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from switchboard.common.db import Database
from switchboard.common.settings import PlatformSettings
from switchboard.contracts import Channel, MessageReceived

from ..conftest import Publish, eventually, message_received, random_number


@dataclass
class Exchange:
    """One message and what it got: its user turn and the reply turns that answer it."""

    event: MessageReceived
    conversation: dict[str, Any]
    turn: dict[str, Any]
    replies: list[dict[str, Any]]

    @property
    def reply(self) -> dict[str, Any] | None:
        """The reply that was sent (queued for delivery), if any."""
        sent = [t for t in self.replies if t["idempotency_key"]]
        return sent[0] if sent else None


@dataclass
class Phone:
    api: httpx.AsyncClient
    publish: Publish
    tenant: Any
    address: str = field(default_factory=random_number)
    channel: Channel = "sms"

    async def text(self, body: str) -> Exchange:
        """Send `body` and wait until the assistant has dealt with it."""
        return await self.outcome(await self.send(body))

    async def send(self, body: str) -> MessageReceived:
        """Send `body` without waiting for what becomes of it."""
        event = message_received(
            self.tenant.id, body, from_address=self.address, channel=self.channel
        )
        await self.publish(event)
        return event

    async def outcome(self, event: MessageReceived) -> Exchange:
        async def dealt_with() -> Exchange | None:
            for conversation in await self.conversations():
                turns = conversation["turns"]
                for i, turn in enumerate(turns):
                    if turn["message_id"] == str(event.data.message_id):
                        # Written in one transaction with the message: its replies are the
                        # turns up to the next message, already all there.
                        replies = []
                        for later in turns[i + 1 :]:
                            if later["role"] == "user":
                                break
                            replies.append(later)
                        return Exchange(event, conversation, turn, replies)
            return None

        result: Exchange = await eventually(dealt_with)
        return result

    async def conversations(self) -> list[dict[str, Any]]:
        """Every conversation of this contact (open and closed), with its transcript."""
        headers = self.tenant.headers
        contacts = await self.api.get(
            "/v1/contacts", params={"address": self.address}, headers=headers
        )
        found = []
        for contact in contacts.json():
            listed = await self.api.get(
                "/v1/conversations", params={"contact_id": contact["id"]}, headers=headers
            )
            for conversation in listed.json():
                detail = await self.api.get(
                    f"/v1/conversations/{conversation['id']}", headers=headers
                )
                found.append(detail.json())
        return found

    async def contact(self) -> dict[str, Any]:
        response = await self.api.get(
            "/v1/contacts", params={"address": self.address}, headers=self.tenant.headers
        )
        [contact] = response.json()
        return dict(contact)


async def model_asked(fake: Any, times: int) -> None:
    """Wait until a fake model has been asked `times` times in all."""

    async def asked() -> bool:
        return len(fake.requests) >= times

    await eventually(asked)


@pytest.fixture
def phone(
    conversation_api: httpx.AsyncClient,
    conversation_worker: None,
    publish: Publish,
    accepted: Callable[[dict[str, str]], Awaitable[None]],
) -> Callable[..., Awaitable[Phone]]:
    """`await phone(tenant)`: a new contact's phone, once the service accepts the tenant's key."""

    async def make(tenant: Any, *, channel: Channel = "sms", address: str | None = None) -> Phone:
        await accepted(tenant.headers)
        return Phone(conversation_api, publish, tenant, address or random_number(), channel)

    return make


@pytest.fixture
def configure(
    conversation_api: httpx.AsyncClient, accepted: Callable[[dict[str, str]], Awaitable[None]]
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await configure(tenant, routes=..., enabled=...)`: PATCH the tenant's assistant settings."""

    async def patch(tenant: Any, **changes: Any) -> dict[str, Any]:
        await accepted(tenant.headers)
        response = await conversation_api.patch(
            "/v1/assistant/settings", json=changes, headers=tenant.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    return patch


@pytest.fixture
async def db(platform_env: dict[str, str]) -> AsyncIterator[Database]:
    """The service's database, for tests of what the worker reads and writes."""
    database = Database(PlatformSettings().database_url, pool_size=2)
    yield database
    await database.dispose()
