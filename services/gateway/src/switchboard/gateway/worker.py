"""The gateway's worker: takes `messages.outbound`, dispatches sends, relays its outbox."""

from __future__ import annotations

from datetime import timedelta

from switchboard.common.db import Database
from switchboard.common.inbox import Inbox
from switchboard.common.kafka import Delivery, EventConsumer
from switchboard.common.runtime import Loops, Worker, run_worker
from switchboard.contracts import MessageRequested, Topic
from switchboard.gateway.compliance.gates import ComplianceGate
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.crypto import CredentialCipher
from switchboard.gateway.meta.transport import MetaTransport
from switchboard.gateway.models import inbox, outbox
from switchboard.gateway.numbers.service import SenderDirectory
from switchboard.gateway.outbound.dispatcher import Dispatcher
from switchboard.gateway.outbound.pacing import Pacer
from switchboard.gateway.outbound.reconciler import SendingReconciler
from switchboard.gateway.outbound.service import outbound_service
from switchboard.gateway.outbound.transports import (
    SandboxTransport,
    Transport,
    TransportRegistry,
    TwilioTransport,
)
from switchboard.gateway.outbound.whatsapp_window import WhatsAppWindow
from switchboard.gateway.partners.consumer import partner_events_consumer
from switchboard.gateway.partners.sender import sender_for
from switchboard.gateway.tenants.service import tenant_service


async def on_message_requested(event: MessageRequested, delivery: Delivery) -> None:
    async with delivery.transaction() as session:
        await outbound_service.enqueue(session, event.tenant_id, event.data)


def transport_for(settings: GatewaySettings, db: Database) -> Transport:
    """Each sender number's provider, unless the deployment keeps everything in the sandbox."""
    if settings.default_transport == "sandbox":
        return TransportRegistry(force=SandboxTransport(db))
    return TransportRegistry(
        [
            TwilioTransport(settings.twilio_api_url),
            MetaTransport(settings.meta_api_url, settings.meta_api_version),
        ]
    )


def dispatcher_for(settings: GatewaySettings, db: Database) -> Dispatcher:
    cipher = CredentialCipher(settings.credentials_key.get_secret_value())
    paced = settings.pacing and settings.default_transport != "sandbox"
    return Dispatcher(
        db,
        transport_for(settings, db),
        SenderDirectory(db, cipher, ttl=settings.sender_cache_seconds),
        status_callback=settings.public_url.rstrip("/") + "/v1/webhooks/twilio/status",
        concurrency=settings.dispatch_concurrency,
        max_attempts=settings.dispatch_max_attempts,
        gates=(ComplianceGate(db), WhatsAppWindow(db)),
        pacer=Pacer(settings.send_rates) if paced else None,
    )


def outbound_consumer(worker: Worker) -> EventConsumer:
    """The `gateway-dispatcher` group on `messages.outbound`: requests become queued sends."""
    consumer = EventConsumer(
        name="gateway-dispatcher",
        topics=(Topic.MESSAGES_OUTBOUND,),
        bootstrap_servers=worker.platform.kafka_bootstrap_servers,
        db=worker.db,
        inbox=Inbox(inbox),
        producer=worker.producer,
    )
    consumer.on(MessageRequested, on_message_requested)
    return consumer


async def run() -> None:
    settings = GatewaySettings()

    async def loops(worker: Worker) -> Loops:
        # Replicas of `tenants` heal from a lost or truncated topic when the gateway starts.
        async with worker.db.transaction() as session:
            await tenant_service.republish_all(session)
        return {
            "outbound-consumer": outbound_consumer(worker).run(),
            "dispatcher": dispatcher_for(settings, worker.db).run(),
            "sending-reconciler": SendingReconciler(
                worker.db, timeout=timedelta(seconds=settings.sending_timeout_seconds)
            ).run(),
            "partner-webhooks-consumer": partner_events_consumer(worker).run(),
            "partner-webhooks-sender": sender_for(settings, worker.db).run(),
        }

    await run_worker("gateway", settings, loops, outbox=outbox)
