"""Provider webhooks: Twilio inbound messages and status callbacks."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request, Response

from switchboard.common.errors import NotFound
from switchboard.common.telemetry import mask_address
from switchboard.contracts import MessageReceivedData, new_event_id
from switchboard.gateway import metrics
from switchboard.gateway.addresses import provider_address
from switchboard.gateway.inbound import twilio
from switchboard.gateway.inbound.recorder import InboundRecorder, Receipt
from switchboard.gateway.numbers.service import SenderAccount, SenderDirectory
from switchboard.gateway.outbound.status import status_service

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/webhooks/twilio", tags=["webhooks"])


@router.post("/messages", summary="Twilio inbound SMS/WhatsApp webhook.")
async def twilio_inbound(request: Request) -> Response:
    """Take an inbound message; 2xx only once it is durably recorded."""
    form = twilio.parse_form(await request.body())
    message_sid, from_raw, to_raw = twilio.require(form, "MessageSid", "From", "To")
    channel = twilio.channel_of(to_raw)
    to_address = provider_address(to_raw)
    sender = await _sender(request, channel, to_address)
    _verify(request, sender, form)
    message = MessageReceivedData(
        message_id=new_event_id(),
        channel=channel,
        provider="twilio",
        provider_message_id=message_sid,
        from_address=provider_address(from_raw),
        to_address=to_address,
        body=form.get("Body", ""),
        media=twilio.media_of(form),
        received_at=twilio.now(),
    )
    recorder: InboundRecorder = request.app.state.inbound
    taken = await recorder.record(Receipt(sender.tenant_id, sender.id, message))
    metrics.INBOUND.labels(channel, "accepted" if taken else "duplicate").inc()
    log.info(
        "inbound.received",
        duplicate=not taken,
        channel=channel,
        sender=mask_address(to_address),
        tenant_id=str(sender.tenant_id),
    )
    return Response(twilio.EMPTY_TWIML, media_type="text/xml")


@router.post("/status", summary="Twilio message status callback.")
async def twilio_status(request: Request) -> Response:
    """Record a delivery status reported by Twilio (monotonic: late statuses never regress)."""
    form = twilio.parse_form(await request.body())
    message_sid, status = twilio.require(form, "MessageSid", "MessageStatus")
    db = request.app.state.db
    async with db.transaction() as session:
        message = await status_service.find_for_callback(
            session, "twilio", message_sid, request.query_params.get("message_id")
        )
        if message is None:
            raise NotFound("Unknown message.")
        sender = await request.app.state.senders.by_id(message.sender_number_id)
        if sender is None:
            raise NotFound("Unknown sender number.")
        _verify(request, sender, form)
        await status_service.apply_provider_status(session, message, status, form)
    return Response(status_code=204)


async def _sender(request: Request, channel: str, address: str) -> SenderAccount:
    senders: SenderDirectory = request.app.state.senders
    sender = await senders.by_address(channel, address)
    if sender is None:
        raise NotFound("No tenant owns this number.")
    return sender


def _verify(request: Request, sender: SenderAccount, form: dict[str, str]) -> None:
    url = request.app.state.settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    try:
        twilio.verify_signature(
            sender.auth_token, url, form, request.headers.get("X-Twilio-Signature", "")
        )
    except Exception:
        metrics.WEBHOOK_SIGNATURE_FAILURES.labels("twilio").inc()
        log.warning("webhook.signature_invalid", provider="twilio", path=request.url.path)
        raise
