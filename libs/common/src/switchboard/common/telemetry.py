"""Structured logs, Prometheus metrics and OpenTelemetry traces, configured once per process."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from prometheus_client import Counter, Gauge, Histogram

from switchboard.common.settings import PlatformSettings

# Metrics: base units, bounded labels (never addresses, bodies or ids). --------------------------

HTTP_REQUESTS = Counter(
    "http_server_requests", "HTTP requests served.", ["service", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "HTTP request latency.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CONSUMER_MESSAGES = Counter(
    "kafka_consumer_messages", "Kafka records processed.", ["consumer", "topic", "outcome"]
)
CONSUMER_DURATION = Histogram(
    "kafka_consumer_processing_duration_seconds",
    "Time to process one Kafka record, retries included.",
    ["consumer", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_IN_FLIGHT = Gauge(
    "kafka_consumer_in_flight_records",
    "Records taken and not finished yet, by a consumer that pipelines them (concurrent keys).",
    ["consumer"],
)
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag_records", "Records not yet processed.", ["consumer", "topic", "partition"]
)
_STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5)
BATCH_ITEMS = Histogram(
    "batch_items",
    "Items handled together in one batch (group commit, batched reads).",
    ["batcher"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
BATCH_WAIT = Histogram(
    "batch_wait_seconds",
    "Time an item waited for its batch to start (the batch before it still running).",
    ["batcher"],
    buckets=_STAGE_BUCKETS,
)
BATCH_DURATION = Histogram(
    "batch_duration_seconds", "Time to handle one batch.", ["batcher"], buckets=_STAGE_BUCKETS
)
EVENT_LOOP_LAG = Histogram(
    "event_loop_lag_seconds",
    "How late a timer on the process's event loop fires: the time callbacks wait their turn.",
    buckets=_STAGE_BUCKETS,
)
OUTBOX_PUBLISHED = Counter("outbox_published_events", "Outbox events relayed to Kafka.", ["schema"])
OUTBOX_DELAY = Histogram(
    "outbox_delay_seconds",
    "From an outbox row's transaction start to the broker's acknowledgement of its event.",
    ["schema"],
    buckets=_STAGE_BUCKETS,
)
OUTBOX_BACKLOG = Gauge(
    "outbox_backlog_events",
    "Outbox events the relay last found waiting (capped at its batch size).",
    ["schema"],
)


async def watch_event_loop(interval: float = 0.01) -> None:
    """Observe `EVENT_LOOP_LAG` every `interval` seconds, forever."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(interval)
        EVENT_LOOP_LAG.observe(max(0.0, time.perf_counter() - started - interval))


# Tracing --------------------------------------------------------------------------------------

_tracing_enabled = False


def configure_tracing(
    service: str, settings: PlatformSettings, exporter: SpanExporter | None = None
) -> bool:
    """Record spans when they have somewhere to go (OTLP endpoint or given exporter).

    Without one the API's no-op tracer stays: spans cost next to nothing, yet an incoming trace
    context is still carried on, through the outbox, to Kafka headers.
    """
    global _tracing_enabled
    if _tracing_enabled:
        return True
    if exporter is None and settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{settings.otlp_endpoint.rstrip('/')}/v1/traces")
    if exporter is None:
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": f"switchboard-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _tracing_enabled = True
    return True


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_headers() -> dict[str, str]:
    """W3C trace context of the current span, to be carried in Kafka headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def continued_trace(headers: Mapping[str, str]) -> Iterator[None]:
    """Make the trace context carried in `headers` current for the block."""
    token = otel_context.attach(propagate.extract(dict(headers)))
    try:
        yield
    finally:
        otel_context.detach(token)


# Logging --------------------------------------------------------------------------------------


def _add_trace_ids(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event_dict["trace_id"] = format(span.trace_id, "032x")
        event_dict["span_id"] = format(span.span_id, "016x")
    return event_dict


def configure_logging(service: str, settings: PlatformSettings) -> None:
    """JSON logs (or console for humans) with service, trace and tenant ids."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_ids,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[settings.log_level]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def mask_address(address: str) -> str:
    """A phone number safe for info-level logs: country code and last two digits only."""
    if len(address) <= 6:
        return "***"
    return f"{address[:3]}***{address[-2:]}"
