"""A local fake of Twilio's Messages API, for tests and benchmarks.

It checks Basic auth like Twilio, records every message, answers with Twilio's JSON shapes and
error codes, and posts signed status callbacks (`sent`, then `delivered`) to `StatusCallback`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send
from twilio.request_validator import RequestValidator

INVALID_NUMBER = "+15005550001"  # Twilio's magic "invalid number" test value
UNSUBSCRIBED_NUMBER = "+15005550004"  # Twilio's magic number that has unsubscribed (21610)
_MESSAGES_PATH = re.compile(r"/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json")


@dataclass
class FakeTwilio:
    accounts: dict[str, str] = field(default_factory=dict)  # account sid -> auth token
    messages: list[dict[str, str]] = field(default_factory=list)
    transient_failures: int = 0  # answer 503 this many times before accepting
    callbacks: bool = True
    callback_client: httpx.AsyncClient | None = None
    keep: bool = True  # record messages in `messages` (a long benchmark would not want to)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def app(self) -> ASGIApp:
        """The API as a bare ASGI app (cheap enough to serve thousands of sends a second)."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return
            match = _MESSAGES_PATH.fullmatch(scope["path"])
            if scope["path"] == "/healthz":
                status, body = 200, {"status": "ok"}
            elif match is None or scope["method"] != "POST":
                status, body = 404, {"message": "Not found"}
            else:
                raw = await _read_body(receive)
                form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
                headers = dict(scope["headers"])
                auth = headers.get(b"authorization", b"").decode("latin-1")
                status, body = self.create(match["sid"], auth, form)
            payload = json.dumps(body).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": payload})

        return app

    def create(self, account_sid: str, auth: str, form: dict[str, str]) -> tuple[int, Any]:
        """Twilio's `Create a Message`: the status code and JSON body it answers."""
        if not self._authorised(account_sid, auth):
            return _error(401, 20003, "Authenticate")
        if self.transient_failures > 0:
            self.transient_failures -= 1
            return _error(503, 20500, "Service unavailable")
        if form.get("To", "").removeprefix("whatsapp:") == INVALID_NUMBER:
            return _error(400, 21211, f"The 'To' number {form['To']} is not a valid phone number.")
        if form.get("To", "").removeprefix("whatsapp:") == UNSUBSCRIBED_NUMBER:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = "SM" + secrets.token_hex(16)
        received = datetime.now(UTC).isoformat()
        if self.keep:
            self.messages.append(
                {"sid": sid, "account_sid": account_sid, "received_at": received, **form}
            )
        if self.callbacks and form.get("StatusCallback"):
            task = asyncio.create_task(self._report(account_sid, sid, form))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return 201, {
            "sid": sid,
            "account_sid": account_sid,
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
        }

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


def _error(status: int, code: int, message: str) -> tuple[int, Any]:
    return status, {
        "code": code,
        "message": message,
        "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on its own: `python -m switchboard.devstack.fake_twilio --port 9999
    --account AC...:token [--callbacks]` (benchmarks run it as a separate process)."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="A local fake of Twilio's Messages API.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--account", action="append", default=[], help="SID:auth-token")
    parser.add_argument("--callbacks", action="store_true", help="post status callbacks")
    args = parser.parse_args(argv)
    # Nothing is kept between requests when run this way: a benchmark must not grow memory.
    fake = FakeTwilio(
        accounts=dict(item.split(":", 1) for item in args.account),
        callbacks=args.callbacks,
        keep=False,
    )
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
