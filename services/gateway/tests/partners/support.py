"""Partner webhook test helpers: the local receiver, a movable clock, registration."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from starlette.requests import Request
from starlette.responses import Response

from switchboard.gateway.partners.schedule import RetryPolicy

FAST_RETRIES = RetryPolicy(
    schedule=tuple(timedelta(seconds=0.2 * (i > 0)) for i in range(4)), jitter=0
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A partner's HTTP server on 127.0.0.1: keeps every request, answers as scripted."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Response]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *responses: Response) -> None:
        """Answer the next requests to `path` with `responses`, then 204 as usual."""
        self.scripts.setdefault(path, []).extend(responses)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        self.received.append(Received(scope["path"], dict(request.headers), body, time.monotonic()))
        queued = self.scripts.get(scope["path"])
        response = queued.pop(0) if queued else Response(status_code=204)
        await response(scope, receive, send)


class FakeClock:
    """The delivery loop's clock: real time plus an offset a test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


@dataclass
class Sending:
    clock: FakeClock


async def register(
    gateway: httpx.AsyncClient, headers: dict[str, str], url: str, *event_types: str
) -> dict[str, object]:
    response = await gateway.post(
        "/v1/webhooks/endpoints",
        json={"url": url, "event_types": list(event_types) or ["message.received"]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body
