"""Meta's WhatsApp webhook: the subscription handshake, and signed batches of messages and statuses.

A batch is answered 200 only once every message in it is durably recorded (group commit, as for
Twilio) and every status applied; a repeated delivery records nothing twice.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterable
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import ValidationError

from switchboard.common.errors import BadRequest, Forbidden, NotFound, SwitchboardError
from switchboard.gateway import metrics
from switchboard.gateway.compliance.inbound import ComplianceInbox
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.inbound.recorder import InboundRecorder, Receipt
from switchboard.gateway.meta import signature
from switchboard.gateway.meta.inbound import apply_status, receipt
from switchboard.gateway.meta.payloads import Notification, Value
from switchboard.gateway.numbers.service import SenderAccount, SenderDirectory

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/webhooks/meta", tags=["webhooks"])


@router.get("", summary="Meta webhook subscription handshake.", response_class=PlainTextResponse)
async def meta_handshake(
    request: Request,
    mode: Annotated[str, Query(alias="hub.mode")],
    token: Annotated[str, Query(alias="hub.verify_token")],
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=512)],
) -> PlainTextResponse:
    """Echo `hub.challenge` when `hub.verify_token` is the configured one."""
    settings: GatewaySettings = request.app.state.settings
    configured = settings.meta_verify_token
    if mode != "subscribe":
        raise BadRequest("hub.mode must be `subscribe`.")
    if configured is None or not hmac.compare_digest(
        configured.get_secret_value().encode(), token.encode()
    ):
        raise Forbidden("The verify token does not match.")
    return PlainTextResponse(challenge)


@router.post("", summary="Meta WhatsApp messages and statuses.", status_code=200)
async def meta_notification(request: Request) -> Response:
    """Record the messages and apply the statuses of one signed notification."""
    raw = await request.body()
    values = _values(raw)
    senders = await _senders(request.app.state.senders, values)
    _verify(senders.values(), raw, request.headers.get("x-hub-signature-256"))
    settings: GatewaySettings = request.app.state.settings
    media_url = f"{settings.meta_api_url.rstrip('/')}/{settings.meta_api_version}"
    receipts = [
        receipt(senders[v.metadata.phone_number_id], message, media_url)
        for v in values
        if v.metadata.phone_number_id in senders
        for message in v.messages
    ]
    taken = await asyncio.gather(*(_take(request.app.state, r) for r in receipts))
    for r, was_taken in zip(receipts, taken, strict=True):
        metrics.inbound("whatsapp", "accepted" if was_taken else "duplicate").inc()
        log.debug("inbound.received", duplicate=not was_taken, tenant_id=str(r.tenant_id))
    statuses = [
        (senders[v.metadata.phone_number_id], status)
        for v in values
        if v.metadata.phone_number_id in senders
        for status in v.statuses
    ]
    if statuses:
        # Rows are locked in wamid order, so two concurrent notifications cannot deadlock.
        statuses.sort(key=lambda pair: pair[1].id)
        async with request.app.state.db.transaction() as session:
            for sender, status in statuses:
                await apply_status(session, sender, status)
    return Response(status_code=200)


async def _take(state: Any, incoming: Receipt) -> bool:
    """Compliance keywords (STOP...) first, as for every channel; else the group commit."""
    compliance: ComplianceInbox = state.compliance
    keyword_taken = await compliance.take(incoming)
    if keyword_taken is not None:
        return keyword_taken
    recorder: InboundRecorder = state.inbound
    return await recorder.record(incoming)


def _values(raw: bytes) -> list[Value]:
    try:
        notification = Notification.model_validate_json(raw)
        return notification.values()
    except ValidationError as exc:
        raise BadRequest("The body is not a WhatsApp webhook notification.") from exc


async def _senders(directory: SenderDirectory, values: list[Value]) -> dict[str, SenderAccount]:
    """The tenants' numbers the notification is about; unknown ones are left out (and logged)."""
    found: dict[str, SenderAccount] = {}
    for phone_number_id in {v.metadata.phone_number_id for v in values}:
        sender = await directory.by_provider_account("meta", phone_number_id)
        if sender is None:
            log.warning("meta.unknown_number", phone_number_id=phone_number_id)
        else:
            found[phone_number_id] = sender
    if values and not found:
        raise NotFound("No tenant owns this WhatsApp number.")
    return found


def _verify(senders: Iterable[SenderAccount], raw: bytes, header: str | None) -> None:
    """Every number's app secret must sign the body (one app signs the whole notification)."""
    try:
        for secret in {s.app_secret or "" for s in senders}:
            signature.verify(secret, raw, header)
    except SwitchboardError:
        metrics.WEBHOOK_SIGNATURE_FAILURES.labels("meta").inc()
        log.warning("webhook.signature_invalid", provider="meta")
        raise
