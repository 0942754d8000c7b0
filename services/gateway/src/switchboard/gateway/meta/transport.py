"""Meta's Graph API as a transport: text and template messages from a WhatsApp Cloud number."""

from __future__ import annotations

from typing import Any

from switchboard.contracts import MessageTemplate
from switchboard.gateway.outbound.errors import PermanentSendError, TransientSendError
from switchboard.gateway.outbound.http import ProviderHttp
from switchboard.gateway.outbound.transports import SendRequest, SendResult

# Meta error codes worth another try: rate limits, throughput, temporary unavailability.
# Every other error is permanent (e.g. 131026 undeliverable, 131047 outside the 24-hour window,
# 132000 template parameters mismatch, 190 expired token).
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 341, 80007, 130429, 131000, 131016, 131056, 133004})


class MetaTransport:
    """`POST /{version}/{phone_number_id}/messages` with the number's access token."""

    name = "meta"

    def __init__(self, base_url: str, version: str, http: ProviderHttp | None = None) -> None:
        self.base_url = f"{base_url.rstrip('/')}/{version}"
        self.http = http or ProviderHttp()

    async def send(self, request: SendRequest) -> SendResult:
        url = f"{self.base_url}/{request.account_sid}/messages"
        headers = {"Authorization": f"Bearer {request.auth_token}"}
        status, payload = await self.http.post(
            url, json_body=message_json(request), headers=headers
        )
        if status >= 300:
            raise _error(status, payload)
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages or "id" not in messages[0]:
            raise PermanentSendError("Meta accepted the message without an id.", code="no_id")
        return SendResult(provider_message_id=str(messages[0]["id"]), status="queued", segments=1)

    async def close(self) -> None:
        await self.http.close()


def message_json(request: SendRequest) -> dict[str, Any]:
    """The Graph API body: a template when one was asked for, free-form text otherwise."""
    message: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": request.to_address.lstrip("+"),
        # Echoed in status webhooks: finds our message even before its wamid is stored.
        "biz_opaque_callback_data": str(request.message_id),
    }
    if request.template is not None:
        return message | {"type": "template", "template": template_json(request.template)}
    return message | {"type": "text", "text": {"preview_url": False, "body": request.body}}


def template_json(template: MessageTemplate) -> dict[str, Any]:
    body: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if template.components is not None:
        body["components"] = list(template.components)
    elif template.parameters:
        parameters = [{"type": "text", "text": value} for value in template.parameters]
        body["components"] = [{"type": "body", "parameters": parameters}]
    return body


def _error(status_code: int, payload: dict[str, Any]) -> Exception:
    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    assert isinstance(error, dict)
    code = error.get("code")
    message = str(error.get("message") or f"meta answered {status_code}")
    if status_code == 429 or status_code >= 500 or code in TRANSIENT_CODES:
        return TransientSendError(message, code=str(code) if code is not None else None)
    return PermanentSendError(message, code=str(code if code is not None else status_code))
