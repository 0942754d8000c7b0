"""API keys: their format, how they are checked, and each service's replica of the key store.

A key reads `sb_<key_id>.<secret>`. Only SHA-256 of the secret is stored: the secret is 256 random
bits, so a slow password hash would add latency without adding safety.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from switchboard.common.errors import NotFound, Unauthorized
from switchboard.contracts import (
    ApiKeyChanged,
    Scope,
    TenantUpserted,
    Topic,
    UnknownEventError,
    parse_event,
)

log = structlog.get_logger(__name__)

KEY_PREFIX = "sb_"
TENANT_SCOPES: tuple[Scope, ...] = ("tenant:admin", "messages:read", "messages:write")


class InsufficientScope(Unauthorized):
    status_code = 403
    code = "insufficient_scope"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        """The whole key, shown to its owner once."""
        return f"{KEY_PREFIX}{self.key_id}.{self.secret}"

    @property
    def secret_hash(self) -> str:
        return hash_secret(self.secret)


def issue_key() -> IssuedKey:
    return IssuedKey(key_id=secrets.token_hex(8), secret=secrets.token_urlsafe(32))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str]:
    """(key_id, secret) of a presented key; `Unauthorized` if it is not one of ours."""
    if not token.startswith(KEY_PREFIX) or "." not in token:
        raise Unauthorized("Malformed API key.")
    key_id, _, secret = token[len(KEY_PREFIX) :].partition(".")
    if not key_id or not secret:
        raise Unauthorized("Malformed API key.")
    return key_id, secret


@dataclass(frozen=True, slots=True)
class StoredKey:
    key_id: str
    tenant_id: UUID
    secret_hash: str
    scopes: tuple[Scope, ...]
    revoked: bool


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the platform admin (no tenant) or a tenant's key."""

    key_id: str
    tenant_id: UUID | None
    scopes: frozenset[Scope]

    @property
    def is_platform_admin(self) -> bool:
        return "platform:admin" in self.scopes

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes and not self.is_platform_admin:
            raise InsufficientScope(f"This key lacks the {scope!r} scope.")

    def tenant(self) -> UUID:
        """The caller's tenant; tenant-scoped endpoints are not for the platform key."""
        if self.tenant_id is None:
            raise NotFound("Use a tenant API key for tenant resources.")
        return self.tenant_id


class KeyStore(Protocol):
    async def find(self, key_id: str) -> StoredKey | None: ...


class KeyVerifier:
    """Turns a presented token into a `Principal`, or raises `Unauthorized`."""

    def __init__(self, store: KeyStore, admin_key: str | None) -> None:
        self.store = store
        self.admin_key = admin_key

    async def verify(self, token: str) -> Principal:
        if self.admin_key and hmac.compare_digest(token.encode(), self.admin_key.encode()):
            return Principal(key_id="admin", tenant_id=None, scopes=frozenset({"platform:admin"}))
        key_id, secret = split_token(token)
        stored = await self.store.find(key_id)
        if (
            stored is None
            or stored.revoked
            or not hmac.compare_digest(stored.secret_hash, hash_secret(secret))
        ):
            raise Unauthorized("Unknown or revoked API key.")
        return Principal(key_id=key_id, tenant_id=stored.tenant_id, scopes=frozenset(stored.scopes))


class TenantsReplica:
    """An in-memory copy of the compacted `tenants` topic, read from the beginning.

    Every service but the gateway checks keys against it, so a revoked key stops working
    everywhere as soon as the revocation reaches the topic.
    """

    def __init__(self, bootstrap_servers: str, *, client_id: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.keys: dict[str, StoredKey] = {}
        self.tenants: dict[UUID, bool] = {}
        self.caught_up = asyncio.Event()

    async def find(self, key_id: str) -> StoredKey | None:
        key = self.keys.get(key_id)
        if key is not None and not self.tenants.get(key.tenant_id, True):
            return None
        return key

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        try:
            partitions = await self._assign(consumer)
            end = await consumer.end_offsets(partitions)
            await consumer.seek_to_beginning(*partitions)
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        self.apply(record.value)
                if not self.caught_up.is_set() and await _reached(consumer, end):
                    self.caught_up.set()
        finally:
            await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        while not (ids := consumer.partitions_for_topic(Topic.TENANTS.value)):
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.2)
        partitions = [TopicPartition(Topic.TENANTS.value, p) for p in sorted(ids)]
        consumer.assign(partitions)
        return partitions

    def apply(self, raw: bytes | None) -> None:
        if raw is None:
            return
        try:
            event = parse_event(raw)
        except UnknownEventError:
            log.warning("tenants_replica.unparseable")
            return
        if isinstance(event, ApiKeyChanged):
            data = event.data
            self.keys[data.key_id] = StoredKey(
                data.key_id, event.tenant_id, data.secret_hash, data.scopes, data.revoked
            )
        elif isinstance(event, TenantUpserted):
            self.tenants[event.tenant_id] = event.data.active


async def _reached(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return False
    return True
