"""Topic names and the partition key each one uses."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID


class Topic(StrEnum):
    MESSAGES_INBOUND = "messages.inbound"
    MESSAGES_OUTBOUND = "messages.outbound"
    MESSAGES_STATUS = "messages.status"
    CONSENT = "consent"
    CONTACTS = "contacts"
    USAGE = "usage"
    ENTITLEMENTS = "entitlements"
    TENANTS = "tenants"
    CAMPAIGNS = "campaigns"
    CONVERSATIONS = "conversations"
    EVENTS = "events"
    BILLING = "billing"

    @property
    def dead_letter(self) -> str:
        """Where poison messages of this topic go after bounded retries."""
        return f"{self.value}.dlq"

    @property
    def compacted(self) -> bool:
        return self in _COMPACTED


_COMPACTED = frozenset({Topic.CONTACTS, Topic.ENTITLEMENTS, Topic.TENANTS})


def contact_key(tenant_id: UUID, address: str) -> bytes:
    """Tenant + contact address: keeps one contact's messages on one partition, in order."""
    return f"{tenant_id}:{address}".encode()


def tenant_key(tenant_id: UUID) -> bytes:
    return str(tenant_id).encode()
