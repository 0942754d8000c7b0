"""The HTTP edge every service shares: app factory, auth and session dependencies, health."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

import structlog
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.common import telemetry
from switchboard.common.auth import KeyVerifier, Principal
from switchboard.common.db import UNAVAILABLE_ERRORS, Database, is_unavailable
from switchboard.common.errors import SwitchboardError, Unauthorized
from switchboard.common.settings import PlatformSettings

log = structlog.get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[object]]


# Dependencies ---------------------------------------------------------------------------------


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        yield session


# `scope="function"`: the transaction commits before the response is sent, never after.
DbSession = Annotated[AsyncSession, Depends(_session, scope="function")]


async def _principal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    verifier: KeyVerifier = request.app.state.verifier
    return await verifier.verify(authorization[7:].strip())


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


# Errors ---------------------------------------------------------------------------------------


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


async def _domain_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, SwitchboardError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse(error_body(exc.code, exc.message), exc.status_code, headers=headers)


async def _invalid_request(_: Request, exc: Exception) -> Response:
    """FastAPI's 422 body, rendered as ASCII JSON so echoing a lone surrogate cannot fail."""
    assert isinstance(exc, RequestValidationError)
    body = json.dumps(jsonable_encoder({"detail": exc.errors()}))
    return Response(body, status_code=422, media_type="application/json")


async def _dependency_error(request: Request, exc: Exception) -> Response:
    if not (is_unavailable(exc) or isinstance(exc, KafkaError)):
        log.error("http.unhandled_error", path=request.url.path, error=repr(exc), exc_info=exc)
        return JSONResponse(error_body("internal_error", "Internal error."), 500)
    log.warning("http.dependency_unavailable", path=request.url.path, error=repr(exc))
    return JSONResponse(
        error_body("unavailable", "A dependency is unavailable; retry shortly."),
        503,
        headers={"Retry-After": "2"},
    )


# Metrics middleware (pure ASGI: no per-request task or body buffering) -------------------------

_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


def _is_probe(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in _PROBES


class MetricsMiddleware:
    """RED metrics per route template (never per raw path: ids would explode the labels).

    When FastAPI's tracing is off it also makes an incoming `traceparent` current, so the
    events a request causes still carry the caller's trace.
    """

    def __init__(self, app: ASGIApp, service: str, *, propagate_only: bool) -> None:
        self.app = app
        self.service = service
        self.propagate_only = propagate_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_probe(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            carried = _trace_headers(scope) if self.propagate_only else None
            if carried:
                with telemetry.continued_trace(carried):
                    await self.app(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            telemetry.HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            telemetry.HTTP_DURATION.labels(self.service, method, route).observe(
                time.perf_counter() - started
            )


def _trace_headers(scope: Scope) -> dict[str, str]:
    wanted = (b"traceparent", b"tracestate")
    return {k.decode(): v.decode("latin-1") for k, v in scope["headers"] if k in wanted}


# Health ---------------------------------------------------------------------------------------


def health_router() -> APIRouter:
    """`/healthz` (alive), `/readyz` (the checks in `app.state.readiness` pass), `/metrics`."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Database, Kafka and replicas are reachable.")
    async def readyz(request: Request) -> Response:
        checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness", {})
        results = await asyncio.gather(*(_run_check(c) for c in checks.values()))
        body = dict(zip(checks, results, strict=True))
        ready = all(r == "ok" for r in results)
        status = "ok" if ready else "unavailable"
        return JSONResponse({"status": status, "checks": body}, 200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics.", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _run_check(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), timeout=2.0)
    except Exception as exc:  # noqa: BLE001 - a failing check is reported, not raised
        return f"failed: {type(exc).__name__}"
    return "ok"


# The app --------------------------------------------------------------------------------------


def create_app(
    *,
    service: str,
    platform: PlatformSettings,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    routers: Iterable[APIRouter],
) -> FastAPI:
    """A service's FastAPI app with Switchboard's logging, tracing, errors, metrics and health.

    The lifespan must set `app.state.db`, `app.state.verifier` and `app.state.readiness`.
    """
    telemetry.configure_logging(service, platform)
    tracing = telemetry.configure_tracing(service, platform)
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry server spans (they continue an incoming `traceparent`);
        # metrics stay with Prometheus, and logs with structlog.
        telemetry={
            "tracing": tracing,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "exclude": _is_probe,
        },
    )
    app.add_exception_handler(SwitchboardError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for unavailable in (*UNAVAILABLE_ERRORS, DBAPIError, KafkaError):
        app.add_exception_handler(unavailable, _dependency_error)
    app.add_middleware(MetricsMiddleware, service=service, propagate_only=not tracing)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    return app
