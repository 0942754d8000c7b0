"""The fast lane for Twilio's inbound-message webhook, the platform's hottest request.

A pure ASGI middleware answers `POST /v1/webhooks/twilio/messages` itself, so a webhook pays for
none of the routing, dependency injection or request objects the rest of the API uses: it reads
the body, checks the signature, makes the receipt durable (group commit) and answers TwiML.
Errors answer exactly as the rest of the API does (403, 404, 400; 503 when the database is away).
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.common import telemetry
from switchboard.common.db import is_unavailable
from switchboard.common.errors import BadRequest, NotFound, SwitchboardError
from switchboard.common.http import error_body
from switchboard.contracts import MessageReceivedData, new_event_id
from switchboard.gateway import metrics
from switchboard.gateway.addresses import provider_address
from switchboard.gateway.compliance.inbound import ComplianceInbox
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.inbound import twilio
from switchboard.gateway.inbound.forwarded import FORWARDED_HEADERS, public_base
from switchboard.gateway.inbound.recorder import InboundRecorder, Receipt
from switchboard.gateway.numbers.service import SenderAccount, SenderDirectory

log = structlog.get_logger(__name__)

INBOUND_PATH = "/v1/webhooks/twilio/messages"
_WANTED = frozenset({b"x-twilio-signature", b"traceparent", b"tracestate", *FORWARDED_HEADERS})
MAX_BODY = 256 * 1024  # Twilio's own limit on a message with its media URLs is far lower


class TwilioInboundLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != INBOUND_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _WANTED
        }
        if "traceparent" in headers:
            carried = {k: headers[k] for k in ("traceparent", "tracestate") if k in headers}
            with telemetry.continued_trace(carried):
                status, body, content_type = await self._answer(scope, receive, headers)
        else:
            status, body, content_type = await self._answer(scope, receive, headers)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type), *_retry_after(status)],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _answer(
        self, scope: Scope, receive: Receive, headers: dict[str, str]
    ) -> tuple[int, bytes, bytes]:
        try:
            await take(scope["app"].state, scope, await _body(receive), headers)
        except SwitchboardError as exc:
            return exc.status_code, _json(error_body(exc.code, exc.message)), b"application/json"
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("inbound.unavailable", error=repr(exc))
            message = "A dependency is unavailable; retry shortly."
            return 503, _json(error_body("unavailable", message)), b"application/json"
        return 200, twilio.EMPTY_TWIML.encode(), b"text/xml"


async def take(state: Any, scope: Scope, body: bytes, headers: dict[str, str]) -> None:
    """Take one inbound message; returns once it is durably recorded (or known already)."""
    form = twilio.parse_form(body)
    message_sid, from_raw, to_raw = twilio.require(form, "MessageSid", "From", "To")
    channel = twilio.channel_of(to_raw)
    to_address = provider_address(to_raw)
    senders: SenderDirectory = state.senders
    sender = await senders.by_address(channel, to_address)
    if sender is None:
        raise NotFound("No tenant owns this number.")
    verify(state.settings, scope, sender, form, headers)
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
    receipt = Receipt(sender.tenant_id, sender.id, message)
    # Keywords (STOP, HELP...) take a slower path of their own; `None` for ordinary messages.
    compliance: ComplianceInbox = state.compliance
    taken = await compliance.take(receipt)
    if taken is None:
        recorder: InboundRecorder = state.inbound
        taken = await recorder.record(receipt)
    metrics.inbound(channel, "accepted" if taken else "duplicate").inc()
    # Debug, not info: at thousands a second the counter above is what operators read.
    log.debug(
        "inbound.received",
        duplicate=not taken,
        channel=channel,
        sender=telemetry.mask_address(to_address),
        tenant_id=str(sender.tenant_id),
    )


def verify(
    settings: GatewaySettings,
    scope: Scope,
    sender: SenderAccount,
    form: dict[str, str],
    headers: dict[str, str],
) -> None:
    """Check the signature against the public URL Twilio called; counted and logged if bad."""
    url = public_base(settings, scope, headers) + scope["path"]
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode("latin-1")
    try:
        twilio.verify_signature(sender.auth_token, url, form, headers.get("x-twilio-signature", ""))
    except SwitchboardError:
        metrics.WEBHOOK_SIGNATURE_FAILURES.labels("twilio").inc()
        log.warning("webhook.signature_invalid", provider="twilio", path=scope["path"])
        raise


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest("The body is too large for a webhook.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _json(data: object) -> bytes:
    return json.dumps(data).encode()


def _retry_after(status: int) -> list[tuple[bytes, bytes]]:
    return [(b"retry-after", b"2")] if status == 503 else []
