"""The gateway's worker: takes `messages.outbound`, dispatches sends, relays its outbox."""

from __future__ import annotations

from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import Delivery, EventConsumer, create_producer
from switchboard.common.outbox import OutboxRelay
from switchboard.common.runtime import database_check, kafka_check, serve_worker
from switchboard.common.settings import PlatformSettings
from switchboard.common.telemetry import configure_logging, configure_tracing
from switchboard.contracts import MessageRequested, Topic
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.crypto import CredentialCipher
from switchboard.gateway.models import inbox, outbox
from switchboard.gateway.numbers.service import SenderDirectory
from switchboard.gateway.outbound.dispatcher import Dispatcher
from switchboard.gateway.outbound.service import outbound_service
from switchboard.gateway.outbound.transports import SandboxTransport, Transport, TwilioTransport
from switchboard.gateway.tenants.service import tenant_service


async def on_message_requested(event: MessageRequested, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await outbound_service.enqueue(session, event.tenant_id, event.data)


def transport_for(settings: GatewaySettings, db: Database) -> Transport:
    if settings.default_transport == "twilio":
        return TwilioTransport(settings.twilio_api_url)
    return SandboxTransport(db)


async def run() -> None:
    platform = PlatformSettings()
    settings = GatewaySettings()
    configure_logging("gateway", platform)
    configure_tracing("gateway", platform)
    db = Database(
        platform.database_url,
        pool_size=platform.database_pool_size,
        application_name="gateway-worker",
    )
    producer = create_producer(platform.kafka_bootstrap_servers, client_id="gateway")
    await producer.start()
    cipher = CredentialCipher(settings.credentials_key.get_secret_value())
    dispatcher = Dispatcher(
        db,
        transport_for(settings, db),
        SenderDirectory(db, cipher, ttl=settings.sender_cache_seconds),
        status_callback=settings.public_url.rstrip("/") + "/v1/webhooks/twilio/status",
        concurrency=settings.dispatch_concurrency,
        max_attempts=settings.dispatch_max_attempts,
    )
    consumer = EventConsumer(
        name="gateway-dispatcher",
        topics=(Topic.MESSAGES_OUTBOUND,),
        bootstrap_servers=platform.kafka_bootstrap_servers,
        db=db,
        inbox=Inbox(inbox),
        producer=producer,
    )
    consumer.on(MessageRequested, on_message_requested)
    async with db.transaction() as session:
        await tenant_service.republish_all(session)
    try:
        await serve_worker(
            port=settings.worker_port,
            loops={
                "outbound-consumer": consumer.run(),
                "dispatcher": dispatcher.run(),
                "outbox-relay": OutboxRelay(db, producer, outbox).run(),
            },
            readiness={"database": database_check(db), "kafka": kafka_check(producer)},
        )
    finally:
        await producer.stop()
        await db.dispose()
