"""Provider webhooks: Twilio status callbacks (inbound messages take the fast lane, `lane.py`)."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request, Response

from switchboard.common.errors import NotFound
from switchboard.gateway.inbound import twilio
from switchboard.gateway.inbound.lane import verify
from switchboard.gateway.numbers.service import SenderAccount
from switchboard.gateway.outbound.status import status_service

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/webhooks/twilio", tags=["webhooks"])


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


def _verify(request: Request, sender: SenderAccount, form: dict[str, str]) -> None:
    headers = {k.lower(): v for k, v in request.headers.items()}
    verify(request.app.state.settings, request.scope, sender, form, headers)
