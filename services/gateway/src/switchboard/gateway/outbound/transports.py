"""Channel transports: the one interface every provider implements, and the two we ship.

`TwilioTransport` calls Twilio's REST API (base URL configurable, so tests point it at a local fake
Twilio). `SandboxTransport` keeps what would have been sent in the gateway's database, readable
through `GET /v1/sandbox/messages`: the default for `make run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from uuid import UUID

import httpx
from sqlalchemy.dialects.postgresql import insert

from switchboard.common.db import Database
from switchboard.contracts import DeliveryStatus
from switchboard.gateway.models import SandboxMessage
from switchboard.gateway.outbound.segments import count_segments


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


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str
    status: DeliveryStatus
    segments: int
    price: Decimal | None = None
    currency: str | None = None


class SendError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PermanentSendError(SendError):
    """The provider refused the message for good (invalid number, blocked...)."""


class TransientSendError(SendError):
    """Worth another try later (429, 5xx, network)."""


class Transport(Protocol):
    name: str

    async def send(self, request: SendRequest) -> SendResult: ...


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
                    body=request.body,
                )
                .on_conflict_do_nothing(index_elements=["message_id"])
            )
        return SendResult(
            provider_message_id=f"SB{request.message_id.hex}",
            status="delivered",
            segments=count_segments(request.body),
        )


class TwilioTransport:
    """Twilio's Messages API over httpx, one pooled client for every account."""

    name = "twilio"

    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=3.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )

    async def send(self, request: SendRequest) -> SendResult:
        prefix = "whatsapp:" if request.channel == "whatsapp" else ""
        url = f"{self.base_url}/2010-04-01/Accounts/{request.account_sid}/Messages.json"
        form = {
            "To": prefix + request.to_address,
            "From": prefix + request.from_address,
            "Body": request.body,
            "StatusCallback": request.status_callback,
        }
        try:
            response = await self.client.post(
                url, data=form, auth=(request.account_sid or "", request.auth_token)
            )
        except httpx.TransportError as exc:
            raise TransientSendError(f"network error: {exc!r}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientSendError(f"twilio answered {response.status_code}")
        payload = _json(response)
        if response.status_code >= 400:
            raise PermanentSendError(
                str(payload.get("message") or f"twilio answered {response.status_code}"),
                code=str(payload.get("code") or response.status_code),
            )
        return SendResult(
            provider_message_id=str(payload["sid"]),
            status="sent" if payload.get("status") == "sent" else "queued",
            segments=int(str(payload.get("num_segments") or count_segments(request.body))),
            price=abs(Decimal(str(payload["price"]))) if payload.get("price") else None,
            currency=str(payload["price_unit"]) if payload.get("price_unit") else None,
        )

    async def close(self) -> None:
        await self.client.aclose()


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
