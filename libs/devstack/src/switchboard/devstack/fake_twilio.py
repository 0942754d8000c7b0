"""A local fake of Twilio's Messages API, for tests and benchmarks.

It checks Basic auth like Twilio, records every message, answers with Twilio's JSON shapes and
error codes, and posts signed status callbacks (`sent`, then `delivered`) to `StatusCallback`.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from twilio.request_validator import RequestValidator

INVALID_NUMBER = "+15005550001"  # Twilio's magic "invalid number" test value


@dataclass
class FakeTwilio:
    accounts: dict[str, str] = field(default_factory=dict)  # account sid -> auth token
    messages: list[dict[str, str]] = field(default_factory=list)
    transient_failures: int = 0  # answer 503 this many times before accepting
    callbacks: bool = True
    callback_client: httpx.AsyncClient | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def app(self) -> FastAPI:
        app = FastAPI(title="fake twilio")

        @app.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
        async def create_message(account_sid: str, request: Request) -> JSONResponse:
            return await self._create(account_sid, request)

        return app

    async def _create(self, account_sid: str, request: Request) -> JSONResponse:
        if not self._authorised(account_sid, request.headers.get("authorization", "")):
            return _error(401, 20003, "Authenticate")
        if self.transient_failures > 0:
            self.transient_failures -= 1
            return _error(503, 20500, "Service unavailable")
        form = {k: str(v) for k, v in (await request.form()).items()}
        if form.get("To", "").removeprefix("whatsapp:") == INVALID_NUMBER:
            return _error(400, 21211, f"The 'To' number {form['To']} is not a valid phone number.")
        sid = "SM" + secrets.token_hex(16)
        self.messages.append({"sid": sid, "account_sid": account_sid, **form})
        if self.callbacks and form.get("StatusCallback"):
            task = asyncio.create_task(self._report(account_sid, sid, form))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return JSONResponse(
            {
                "sid": sid,
                "account_sid": account_sid,
                "status": "queued",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
            },
            status_code=201,
        )

    async def _report(self, account_sid: str, sid: str, form: dict[str, str]) -> None:
        url = form["StatusCallback"]
        client = self.callback_client or httpx.AsyncClient()
        for status in ("sent", "delivered"):
            params = {
                "MessageSid": sid,
                "MessageStatus": status,
                "AccountSid": account_sid,
                "To": form.get("To", ""),
                "From": form.get("From", ""),
            }
            signature = RequestValidator(self.accounts[account_sid]).compute_signature(url, params)
            await client.post(url, data=params, headers={"X-Twilio-Signature": signature})

    async def drain(self) -> None:
        """Wait for pending status callbacks."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _authorised(self, account_sid: str, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == account_sid and self.accounts.get(account_sid) == password


def _error(status: int, code: int, message: str) -> JSONResponse:
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }
    return JSONResponse(body, status_code=status)
