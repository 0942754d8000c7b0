"""Channel transports: the one interface every provider implements, and how one is chosen.

`TwilioTransport` calls Twilio's REST API (base URL configurable, so tests point it at a local fake
Twilio); Meta's WhatsApp Cloud API lives in `switchboard.gateway.meta`. `SandboxTransport` keeps
what would have been sent in the gateway's database, readable through `GET /v1/sandbox/messages`:
the default for `make run`. `TransportRegistry` picks the transport of the sender number's
provider, unless the deployment forces one (the sandbox) for every message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert

from switchboard.common.db import Database
from switchboard.common.segments import count_segments
from switchboard.contracts import DeliveryStatus, MessageTemplate
from switchboard.gateway.models import SandboxMessage
from switchboard.gateway.outbound.errors import PermanentSendError, TransientSendError
from switchboard.gateway.outbound.http import ProviderHttp, basic_auth


@dataclass(frozen=True, slots=True)
class SendRequest:
    message_id: UUID
    tenant_id: UUID
    channel: str
    from_address: str
    to_address: str
    body: str
    account_sid: str | None
    auth_token: str
    status_callback: str
    provider: str = ""
    """The sender number's provider: which transport the registry hands the request to."""
    template: MessageTemplate | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str
    status: DeliveryStatus
    segments: int
    price: Decimal | None = None
    currency: str | None = None
    provider: str | None = None
    """The transport that sent it, when a registry chose one."""


class Transport(Protocol):
    name: str

    async def send(self, request: SendRequest) -> SendResult: ...


class TransportRegistry:
    """The transport of each sender number's provider; `force` sends everything through one.

    It is itself a transport, so the dispatcher hands it every request: the deployment that forces
    the sandbox can never text anyone, whatever providers its numbers belong to.
    """

    def __init__(self, transports: Iterable[Transport] = (), *, force: Transport | None = None):
        self._by_provider = {transport.name: transport for transport in transports}
        self.force = force
        self.name = force.name if force is not None else "provider"

    def for_provider(self, provider: str) -> Transport:
        if self.force is not None:
            return self.force
        return self._by_provider.get(provider) or _Missing(provider)

    async def send(self, request: SendRequest) -> SendResult:
        transport = self.for_provider(request.provider)
        return replace(await transport.send(request), provider=transport.name)


class _Missing:
    """What a provider without a configured transport gets: a permanent, explained failure."""

    def __init__(self, provider: str) -> None:
        self.name = provider or "unknown"

    async def send(self, request: SendRequest) -> SendResult:
        raise PermanentSendError(f"No transport for provider {self.name!r}.", code="no_transport")


class SandboxTransport:
    """Keeps outbound messages instead of sending them; every one is 'delivered' at once."""

    name = "sandbox"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def send(self, request: SendRequest) -> SendResult:
        async with self.db.transaction() as session:
            await session.execute(
                insert(SandboxMessage)
                .values(
                    tenant_id=request.tenant_id,
                    message_id=request.message_id,
                    channel=request.channel,
                    from_address=request.from_address,
                    to_address=request.to_address,
                    body=request.body or _template_text(request.template),
                )
                .on_conflict_do_nothing(index_elements=["message_id"])
            )
        return SendResult(
            provider_message_id=f"SB{request.message_id.hex}",
            status="delivered",
            segments=count_segments(request.body),
        )


# "Attempt to send to unsubscribed recipient": the contact texted STOP to the carrier or to Twilio.
TWILIO_UNSUBSCRIBED = "21610"


class TwilioTransport:
    """Twilio's Messages API, one pooled HTTP client for every account."""

    name = "twilio"

    def __init__(self, base_url: str, http: ProviderHttp | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or ProviderHttp()

    async def send(self, request: SendRequest) -> SendResult:
        prefix = "whatsapp:" if request.channel == "whatsapp" else ""
        url = f"{self.base_url}/2010-04-01/Accounts/{request.account_sid}/Messages.json"
        form = {
            "To": prefix + request.to_address,
            "From": prefix + request.from_address,
            "StatusCallback": request.status_callback,
            **_content(request),
        }
        auth = basic_auth(request.account_sid or "", request.auth_token)
        status, payload = await self.http.post(url, form=form, headers={"Authorization": auth})
        if status == 429 or status >= 500:
            raise TransientSendError(f"twilio answered {status}")
        if status >= 300:
            code = str(payload.get("code") or status)
            raise PermanentSendError(
                str(payload.get("message") or f"twilio answered {status}"),
                code=code,
                opted_out=code == TWILIO_UNSUBSCRIBED,
            )
        return SendResult(
            provider_message_id=str(payload["sid"]),
            status="sent" if payload.get("status") == "sent" else "queued",
            segments=int(str(payload.get("num_segments") or count_segments(request.body))),
            price=abs(Decimal(str(payload["price"]))) if payload.get("price") else None,
            currency=str(payload["price_unit"]) if payload.get("price_unit") else None,
        )

    async def close(self) -> None:
        await self.http.close()


def _content(request: SendRequest) -> dict[str, str]:
    """A free-form `Body`, or a template as Twilio sends one: its Content SID and variables."""
    template = request.template
    if template is None:
        return {"Body": request.body}
    if template.content_sid is None:
        raise PermanentSendError(
            "A template sent from a Twilio number needs its Twilio Content SID (`content_sid`).",
            code="template_unsupported",
        )
    variables = {str(i): value for i, value in enumerate(template.parameters, start=1)}
    return {"ContentSid": template.content_sid, "ContentVariables": json.dumps(variables)}


def _template_text(template: MessageTemplate | None) -> str:
    if template is None:
        return ""
    return f"[template {template.name} ({template.language})] " + " | ".join(template.parameters)
