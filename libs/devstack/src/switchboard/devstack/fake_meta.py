"""A local fake of Meta's WhatsApp Cloud API (Graph API), for tests and benchmarks.

It checks the Bearer token of each phone number like Meta, records every message it is asked to
send, answers with Meta's JSON shapes and error codes, and posts signed status webhooks
(`X-Hub-Signature-256`) back to the gateway, automatically or on demand. The module's builders
make webhook payloads the way Meta shapes them, for tests that play Meta's part.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

WEBHOOK_PATH = "/v1/webhooks/meta"


@dataclass(frozen=True)
class MetaNumber:
    phone_number_id: str
    display_phone_number: str  # E.164
    waba_id: str
    access_token: str
    app_secret: str


@dataclass
class FakeMeta:
    numbers: dict[str, MetaNumber] = field(default_factory=dict)  # by phone_number_id
    requests: list[dict[str, Any]] = field(default_factory=list)  # every accepted send
    failures: list[tuple[int, int, str]] = field(default_factory=list)  # next answers: (http, code)
    callbacks: bool = False  # post `sent` then `delivered` for each accepted message
    callback_client: httpx.AsyncClient | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def add_number(self, display_phone_number: str, *, app_secret: str | None = None) -> MetaNumber:
        """A new WhatsApp number on a new business account (of one app, if `app_secret` given)."""
        number = MetaNumber(
            phone_number_id=str(secrets.randbelow(10**15) + 10**14),
            display_phone_number=display_phone_number,
            waba_id=str(secrets.randbelow(10**15) + 10**14),
            access_token="EAAG" + secrets.token_hex(24),
            app_secret=app_secret or secrets.token_hex(16),
        )
        self.numbers[number.phone_number_id] = number
        return number

    def app(self) -> FastAPI:
        app = FastAPI(title="fake meta graph api")

        @app.post("/{version}/{phone_number_id}/messages")
        async def send_message(
            version: str, phone_number_id: str, request: Request
        ) -> JSONResponse:
            return await self._send(phone_number_id, request)

        return app

    async def _send(self, phone_number_id: str, request: Request) -> JSONResponse:
        number = self.numbers.get(phone_number_id)
        authorization = request.headers.get("authorization", "")
        if number is None or authorization != f"Bearer {number.access_token}":
            return error(401, 190, "Error validating access token")
        if self.failures:
            status, code, message = self.failures.pop(0)
            return error(status, code, message)
        body = await request.json()
        wamid = "wamid." + secrets.token_urlsafe(24)
        self.requests.append(
            {"phone_number_id": phone_number_id, "authorization": authorization, "json": body}
            | {"wamid": wamid}
        )
        if self.callbacks:
            task = asyncio.create_task(self._report(number, wamid, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                "messages": [{"id": wamid}],
            }
        )

    async def _report(self, number: MetaNumber, wamid: str, body: dict[str, Any]) -> None:
        for state in ("sent", "delivered"):
            data = body.get("biz_opaque_callback_data")
            await self.post(
                number, statuses=[status(wamid, state, str(body.get("to")), callback_data=data)]
            )

    async def post(
        self,
        number: MetaNumber,
        *,
        messages: list[dict[str, Any]] | None = None,
        statuses: list[dict[str, Any]] | None = None,
    ) -> httpx.Response:
        """Post one signed notification about `number` to the gateway, as Meta would."""
        payload = notification(entry(number, change(number, messages or [], statuses or [])))
        body = json.dumps(payload).encode()
        client = self.callback_client or httpx.AsyncClient()
        headers = {"X-Hub-Signature-256": sign(number.app_secret, body)}
        headers["Content-Type"] = "application/json"
        return await client.post(WEBHOOK_PATH, content=body, headers=headers)

    async def drain(self) -> None:
        """Wait for pending status webhooks."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def error(status_code: int, code: int, message: str) -> JSONResponse:
    body = {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": secrets.token_urlsafe(12),
        }
    }
    return JSONResponse(body, status_code=status_code)


# Webhook payload builders --------------------------------------------------------------------


def notification(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": list(entries)}


def entry(number: MetaNumber, *changes: dict[str, Any]) -> dict[str, Any]:
    return {"id": number.waba_id, "changes": list(changes)}


def change(
    number: MetaNumber,
    messages: list[dict[str, Any]],
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": number.display_phone_number.lstrip("+"),
            "phone_number_id": number.phone_number_id,
        },
    }
    if messages:
        value["contacts"] = [
            {"profile": {"name": "Contact"}, "wa_id": m["from"]} for m in messages[:1]
        ]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def _message(sender: str, kind: str, content: dict[str, Any], wamid: str | None) -> dict[str, Any]:
    return {
        "from": sender.lstrip("+"),
        "id": wamid or "wamid." + secrets.token_urlsafe(24),
        "timestamp": str(int(time.time())),
        "type": kind,
        kind: content,
    }


def text(sender: str, body: str, *, wamid: str | None = None) -> dict[str, Any]:
    return _message(sender, "text", {"body": body}, wamid)


def media(
    sender: str, kind: str, media_id: str, mime_type: str, caption: str | None = None
) -> dict[str, Any]:
    content = {"id": media_id, "mime_type": mime_type, "sha256": secrets.token_hex(32)}
    return _message(sender, kind, content | ({"caption": caption} if caption else {}), None)


def button_reply(sender: str, reply_id: str, title: str) -> dict[str, Any]:
    content = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
    return _message(sender, "interactive", content, None)


def list_reply(sender: str, row_id: str, title: str, description: str) -> dict[str, Any]:
    row = {"id": row_id, "title": title, "description": description}
    return _message(sender, "interactive", {"type": "list_reply", "list_reply": row}, None)


def status(
    wamid: str,
    state: str,
    recipient: str,
    *,
    callback_data: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient.lstrip("+"),
    }
    if callback_data:
        report["biz_opaque_callback_data"] = callback_data
    if errors:
        report["errors"] = errors
    return report
