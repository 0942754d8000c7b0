"""What the consumer and relay tests share: a schema of their own and inbound messages."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Column, Integer, MetaData, String, Table, text
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from switchboard.common.db import Database, service_metadata
from switchboard.common.inbox import inbox_table
from switchboard.contracts import MessageReceived, MessageReceivedData, new_event_id


def effects_schema(schema: str) -> tuple[MetaData, Table, Table]:
    """A test module's own schema: `effects` (event ids deliberately not unique, so a doubled
    effect shows) and an inbox."""
    metadata = service_metadata(schema)
    effects = Table(
        "effects",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", PgUUID(as_uuid=True), nullable=False),
        Column("run", String(20), nullable=False),
    )
    return metadata, effects, inbox_table(metadata)


async def schema_database(database_url: str, metadata: MetaData) -> Database:
    """A database with `metadata`'s schema and tables created."""
    database = Database(database_url, pool_size=4)
    async with database.engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {metadata.schema}"))
        await conn.run_sync(metadata.create_all)
    return database


def received(tenant_id: UUID, body: str, from_address: str = "+15550000001") -> MessageReceived:
    """A contact's SMS, as the gateway publishes it."""
    return MessageReceived.create(
        tenant_id,
        MessageReceivedData(
            message_id=new_event_id(),
            channel="sms",
            provider="twilio",
            provider_message_id="SM" + secrets.token_hex(8),
            from_address=from_address,
            to_address="+15550000002",
            body=body,
            received_at=datetime.now(UTC),
        ),
    )
