"""Benchmark: the whole platform, from a signed inbound webhook to the assistant's reply sent.

Starts a Tansu broker, a fresh database with every service's schema, and all five services
(HTTP app and worker each, as separate processes). Offline LLM and the sandbox transport are
the defaults, so nothing leaves the machine. Then offers signed Twilio webhooks at a steady
rate and measures how fast they come out as sandbox sends, and how long each one took:

    webhook received (gateway.inbound_messages.received_at)
      -> reply queued   (gateway.outbound_messages.created_at, in_reply_to = the inbound id)
      -> reply sent     (gateway.sandbox_messages.created_at)

    uv run python bench/end_to_end.py [--rate 20] [--duration 60] [--drain 60]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
import benchkit
from benchkit import (
    RESULTS_DIR,
    WEBHOOK_PATH,
    BenchDatabase,
    CpuSample,
    Provisioned,
    SignedWebhook,
    WebhookFactory,
    base_env,
    fetch_rows,
    fetch_value,
    machine_facts,
    percentile,
    postgres_facts,
    postgres_server,
    postmaster_pid,
    print_table,
    provision,
    wait_for_quiet,
)

from switchboard.common.db import asyncpg_dsn
from switchboard.common.kafka import ensure_topics
from switchboard.common.migrations import migrate
from switchboard.devstack.infra import Broker
from switchboard.devstack.processes import SERVICES, Platform

FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}

TIMELINE = """
select i.received_at, o.created_at as queued_at, o.status, s.created_at as sent_at
from gateway.inbound_messages i
left join gateway.outbound_messages o on o.in_reply_to = i.id and o.tenant_id = i.tenant_id
left join gateway.sandbox_messages s on s.message_id = o.id
where i.tenant_id = $1 and i.provider_message_id = any($2::text[])
"""

SENT_COUNT = """
select count(*) from gateway.inbound_messages i
join gateway.outbound_messages o on o.in_reply_to = i.id and o.tenant_id = i.tenant_id
join gateway.sandbox_messages s on s.message_id = o.id
where i.tenant_id = $1 and i.provider_message_id = any($2::text[])
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--rate", type=float, nargs="+", default=[20.0], help="offered webhooks/s (one step each)"
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per step")
    parser.add_argument(
        "--drain", type=float, default=60.0, help="max seconds to wait for replies after a step"
    )
    parser.add_argument("--contacts", type=int, default=1000, help="distinct senders (From)")
    parser.add_argument("--connections", type=int, default=64, help="max concurrent requests")
    parser.add_argument(
        "--quiet",
        type=float,
        default=None,
        metavar="CORES",
        help="before each step, wait (up to --quiet-timeout s) until the machine uses <= CORES",
    )
    parser.add_argument("--quiet-timeout", type=float, default=300.0)
    parser.add_argument(
        "--database-url",
        default=None,
        help="maintenance URL of a PostgreSQL server to use instead of the embedded one",
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop sb_bench_*")
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for every service (repeatable)",
    )
    return parser.parse_args(argv)


def missing_services() -> list[str]:
    return [s for s in SERVICES if importlib.util.find_spec(f"switchboard.{s}.__main__") is None]


# Offering load --------------------------------------------------------------------------------


@dataclass
class Offered:
    """What the load generator did in one step."""

    rate: float
    started: float = 0.0
    finished: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    max_lag: float = 0.0
    sids: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + self.errors

    def summary(self) -> dict[str, Any]:
        seconds = self.finished - self.started
        return {
            "offered_rate": self.rate,
            "achieved_rate": round(self.sent / seconds, 2) if seconds else 0,
            "requests": self.sent,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "client_errors": self.errors,
            "webhook_latency_ms": {
                "p50": round(1000 * percentile(self.latencies, 50), 2),
                "p99": round(1000 * percentile(self.latencies, 99), 2),
                "max": round(1000 * max(self.latencies, default=0), 2),
            },
            "max_schedule_lag_ms": round(1000 * self.max_lag, 1),
        }


async def offer(
    url: str, webhooks: list[SignedWebhook], sids: list[str], rate: float, connections: int
) -> Offered:
    """POST each webhook at its slot on a fixed schedule (open loop), `connections` at most."""
    result = Offered(rate=rate, sids=sids)
    limit = asyncio.Semaphore(connections)
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def post(webhook: SignedWebhook) -> None:
            async with limit:
                started = time.perf_counter()
                try:
                    headers = {**FORM_HEADERS, "X-Twilio-Signature": webhook.signature}
                    async with session.post(url, data=webhook.body, headers=headers) as response:
                        await response.read()
                        result.statuses[response.status] = (
                            result.statuses.get(response.status, 0) + 1
                        )
                except (aiohttp.ClientError, TimeoutError):
                    result.errors += 1
                    return
                result.latencies.append(time.perf_counter() - started)

        tasks = []
        result.started = time.perf_counter()
        for index, webhook in enumerate(webhooks):
            slot = result.started + index / rate
            delay = slot - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                result.max_lag = max(result.max_lag, -delay)
            tasks.append(asyncio.create_task(post(webhook)))
        await asyncio.gather(*tasks)
        result.finished = time.perf_counter()
    return result


# Measuring what came out ----------------------------------------------------------------------


async def wait_for_replies(
    database_url: str, tenant_id: str, sids: list[str], expected: int, patience: float
) -> float:
    """Poll until every accepted webhook has a sandbox send, or progress stops for `patience` s."""
    started = time.monotonic()
    last_count, last_progress = -1, time.monotonic()
    while True:
        count = int(await fetch_value(database_url, SENT_COUNT, _uuid(tenant_id), sids))
        if count >= expected:
            return time.monotonic() - started
        if count != last_count:
            last_count, last_progress = count, time.monotonic()
        elif time.monotonic() - last_progress > patience:
            return time.monotonic() - started
        await asyncio.sleep(0.5)


def _uuid(value: str) -> UUID:
    return UUID(value)


def timeline(rows: list[Any]) -> dict[str, Any]:
    """Throughput and latency of the replies, from the gateway's own timestamps."""
    received = [r["received_at"] for r in rows]
    sent = [(r["received_at"], r["sent_at"]) for r in rows if r["sent_at"] is not None]
    queued = [(r["received_at"], r["queued_at"]) for r in rows if r["queued_at"] is not None]
    delivered = sum(1 for r in rows if r["status"] == "delivered")
    if not received:
        return {"inbound": 0}
    first_in, last_in = min(received), max(received)
    window = (last_in - first_in).total_seconds()
    sends_in_window = sum(1 for _, s in sent if first_in <= s <= last_in)
    total = [_seconds(r, s) for r, s in sent]
    to_queue = [_seconds(r, q) for r, q in queued]
    half = first_in + (last_in - first_in) / 2
    early = [_seconds(r, s) for r, s in sent if r < half]
    late = [_seconds(r, s) for r, s in sent if r >= half]
    return {
        "inbound": len(received),
        "replies_queued": len(queued),
        "replies_sent": len(sent),
        "replies_delivered": delivered,
        "inbound_rate": round(len(received) / window, 2) if window else None,
        "send_rate_during_load": round(sends_in_window / window, 2) if window else None,
        "send_rate_overall": round(len(sent) / _span(sent), 2) if sent else 0,
        "latency_ms": _latency(total),
        "to_queue_latency_ms": _latency(to_queue),
        "latency_p99_first_half_ms": _latency(early)["p99"],
        "latency_p99_second_half_ms": _latency(late)["p99"],
    }


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def _span(pairs: list[tuple[datetime, datetime]]) -> float:
    """Seconds from the first webhook received to the last reply sent."""
    return max(1e-9, _seconds(min(r for r, _ in pairs), max(s for _, s in pairs)))


def _latency(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {
        "p50": round(1000 * percentile(values, 50), 1),
        "p90": round(1000 * percentile(values, 90), 1),
        "p99": round(1000 * percentile(values, 99), 1),
        "max": round(1000 * max(values), 1),
    }


# Where unanswered messages stopped -------------------------------------------------------------

UNANSWERED = """
select i.id::text as id from gateway.inbound_messages i
where i.tenant_id = $1 and i.provider_message_id = any($2::text[])
  and not exists (
    select 1 from gateway.outbound_messages o
    join gateway.sandbox_messages s on s.message_id = o.id
    where o.in_reply_to = i.id and o.tenant_id = i.tenant_id)
"""

# Each probe counts the unanswered inbound ids ($1) found at one stage of the pipeline.
STAGES = {
    "still_in_gateway_outbox": "select count(*) from gateway.outbox o, unnest($1::text[]) u(x) "
    "where o.payload like '%' || u.x || '%'",
    "in_conversation_transcript": "select count(*) from conversation.turns "
    "where message_id = any($1::uuid[])",
    "reply_still_in_conversation_outbox": "select count(*) from conversation.outbox o, "
    "unnest($1::text[]) u(x) where o.payload like '%' || u.x || '%'",
    "reply_queued_at_gateway": "select count(*) from gateway.outbound_messages "
    "where in_reply_to = any($1::uuid[])",
}


async def trace_unanswered(database_url: str, tenant_id: str, sids: list[str]) -> dict[str, Any]:
    """For webhooks accepted but never answered: how far did each get?"""
    rows = await fetch_rows(database_url, UNANSWERED, _uuid(tenant_id), sids)
    ids = [row["id"] for row in rows]
    trace: dict[str, Any] = {"unanswered": len(ids), "inbound_ids": ids[:20]}
    if not ids:
        return trace
    for stage, query in STAGES.items():
        try:
            trace[stage] = int(await fetch_value(database_url, query, ids))
        except asyncpg.PostgresError as exc:  # a service's schema may not exist yet
            trace[stage] = f"unknown ({type(exc).__name__})"
    return trace


# What PostgreSQL was busy with -----------------------------------------------------------------

ACTIVE = """
select coalesce(nullif(application_name, ''), '?') as app,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 160) as query,
       coalesce(wait_event_type, 'CPU') as wait,
       datname = current_database() as ours
from pg_stat_activity
where state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'
"""


@dataclass
class ActivitySampler:
    """Samples `pg_stat_activity` every `interval` s: which service ran which query, on what."""

    database_url: str
    interval: float = 0.1
    samples: int = 0
    ours: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    others: int = 0

    async def run(self) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
        try:
            while True:
                for row in await conn.fetch(ACTIVE):
                    if row["ours"]:
                        self.ours[(row["app"], row["wait"], row["query"])] += 1
                    else:
                        self.others += 1
                self.samples += 1
                await asyncio.sleep(self.interval)
        finally:
            await conn.close()

    def summary(self, top: int = 8) -> dict[str, Any]:
        """Average active backends: ours by query, and other databases' on the same server."""
        n = max(1, self.samples)
        return {
            "samples": self.samples,
            "active_backends_ours": round(sum(self.ours.values()) / n, 2),
            "active_backends_other_databases": round(self.others / n, 2),
            "top_queries": [
                {"app": app, "wait": wait, "active": round(count / n, 2), "query": query}
                for (app, wait, query), count in self.ours.most_common(top)
            ],
        }


# The run --------------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    database_url: str
    platform: Platform
    broker: Broker
    account: Provisioned
    factory: WebhookFactory
    next_index: int = 0

    @property
    def webhook_url(self) -> str:
        return self.platform.url("gateway") + WEBHOOK_PATH

    def batch(self, count: int) -> tuple[list[SignedWebhook], list[str]]:
        indexes = range(self.next_index, self.next_index + count)
        self.next_index += count
        return [self.factory.make(i) for i in indexes], [self.factory.sid(i) for i in indexes]

    async def warm_up(self) -> None:
        """A few messages through the whole pipeline, so every consumer has joined its group."""
        webhooks, sids = self.batch(10)
        offered = await offer(self.webhook_url, webhooks, sids, 5.0, self.args.connections)
        accepted = offered.statuses.get(200, 0)
        if accepted != len(webhooks):
            raise RuntimeError(f"warm-up webhooks refused: {offered.statuses}")
        waited = await wait_for_replies(
            self.database_url, self.account.tenant_id, sids, accepted, patience=90
        )
        sent = int(
            await fetch_value(self.database_url, SENT_COUNT, _uuid(self.account.tenant_id), sids)
        )
        if sent < accepted:
            raise RuntimeError(
                f"only {sent} of {accepted} warm-up messages were answered after {waited:.0f}s; "
                f"see the service logs in {self.platform.log_dir}"
            )
        print(f"warm-up: {sent} replies sent, pipeline ready after {waited:.1f}s", flush=True)

    async def step(self, rate: float) -> dict[str, Any]:
        count = max(1, round(rate * self.args.duration))
        webhooks, sids = self.batch(count)
        busy_before = await asyncio.to_thread(
            wait_for_quiet, self.args.quiet, self.args.quiet_timeout
        )
        groups = await self._cpu_groups()
        before = CpuSample.take(groups, load_generator="self")
        sampler = ActivitySampler(self.database_url)
        sampling = asyncio.create_task(sampler.run())
        offered = await offer(self.webhook_url, webhooks, sids, rate, self.args.connections)
        cpu = CpuSample.take(groups, load_generator="self").since(before)
        sampling.cancel()
        with suppress(asyncio.CancelledError):
            await sampling
        accepted = offered.statuses.get(200, 0)
        drained = await wait_for_replies(
            self.database_url, self.account.tenant_id, sids, accepted, self.args.drain
        )
        rows = await fetch_rows(self.database_url, TIMELINE, _uuid(self.account.tenant_id), sids)
        unanswered = await trace_unanswered(self.database_url, self.account.tenant_id, sids)
        return {
            "load": offered.summary(),
            "pipeline": timeline(rows),
            "drain_seconds": round(drained, 1),
            "unanswered": unanswered,
            "cpu_cores_during_load": cpu,
            "machine_busy_cores_before": busy_before,
            "postgres_activity_during_load": sampler.summary(),
            "load_average_after": os.getloadavg(),
        }

    async def _cpu_groups(self) -> dict[str, int]:
        """Every service process, the broker, and the PostgreSQL server."""
        roots: dict[str, int] = {}
        for process in self.platform.processes:
            if process.process is not None:
                roots[f"{process.service}-{process.role}"] = process.process.pid
        if self.broker.process is not None:
            roots["broker"] = self.broker.process.pid
        postmaster = await postmaster_pid(self.database_url)
        if postmaster is not None:
            roots["postgres"] = postmaster
        return roots


async def _run_steps(bench: Bench) -> list[dict[str, Any]]:
    await bench.warm_up()
    steps = []
    for rate in bench.args.rate:
        print(f"offering {rate:g} webhooks/s for {bench.args.duration:g}s...", flush=True)
        step = await bench.step(rate)
        steps.append(step)
        _print_step(step)
    return steps


def run(args: argparse.Namespace) -> dict[str, Any]:
    missing = missing_services()
    if missing:
        sys.exit(f"services without a `__main__` yet: {', '.join(missing)}; nothing to measure.")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    log_dir = RESULTS_DIR / f"e2e-logs-{stamp}"
    # Like `make run`: an embedded PostgreSQL (autovacuum on), unless a server is named.
    with postgres_server(args.database_url, embedded=args.database_url is None) as server_url:
        database = BenchDatabase(server_url, keep=args.keep_database)
        database.create()
        broker = Broker(log_path=_log(log_dir, "tansu.log")).start()
        platform: Platform | None = None
        try:
            asyncio.run(ensure_topics(broker.bootstrap_servers))
            migrated = _migrate_all(database.url)
            facts = postgres_facts(database.url)
            env = base_env(database.url, broker.bootstrap_servers)
            env["PYTHONUNBUFFERED"] = "1"  # service logs reach their files before a stop
            env.update(item.split("=", 1) for item in args.service_env)
            platform = Platform.on_free_ports(env, log_dir=log_dir)
            print("starting the platform...", flush=True)
            platform.start(timeout=180)
            account = provision(platform.url("gateway"), env["SWITCHBOARD_ADMIN_KEY"])
            factory = WebhookFactory(
                platform.url("gateway"), account.number, account.auth_token, args.contacts
            )
            bench = Bench(args, database.url, platform, broker, account, factory)
            steps = asyncio.run(_run_steps(bench))
            return {
                "benchmark": "end_to_end",
                "settings": {k: v for k, v in vars(args).items() if k != "database_url"},
                "machine": machine_facts(),
                "postgres": {"database": database.name, **facts},
                "migrated": migrated,
                "logs": str(log_dir),
                "steps": steps,
            }
        finally:
            if platform is not None:
                platform.stop()
            broker.stop()
            database.drop()


def _log(log_dir: Path, name: str) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / name


def _migrate_all(database_url: str) -> list[str]:
    migrated = []
    for service in SERVICES:
        if importlib.util.find_spec(f"switchboard.{service}.migrations") is not None:
            migrate(f"switchboard.{service}:migrations", database_url)
            migrated.append(service)
    return migrated


def _print_step(step: dict[str, Any]) -> None:
    load, pipe = step["load"], step["pipeline"]
    latency = pipe.get("latency_ms", {})
    print(
        f"  offered {load['offered_rate']:g}/s (achieved {load['achieved_rate']}/s), "
        f"{pipe.get('inbound', 0)} in, {pipe.get('replies_sent', 0)} sent "
        f"({pipe.get('replies_delivered', 0)} delivered), "
        f"send rate {pipe.get('send_rate_during_load')}/s, "
        f"webhook->send p50 {latency.get('p50')} ms p99 {latency.get('p99')} ms",
        flush=True,
    )


def report(result: dict[str, Any]) -> None:
    rows = []
    for step in result["steps"]:
        load, pipe = step["load"], step["pipeline"]
        latency = pipe.get("latency_ms", {})
        rows.append(
            [
                f"{load['offered_rate']:g}",
                load["achieved_rate"],
                pipe.get("inbound", 0),
                pipe.get("replies_sent", 0),
                pipe.get("send_rate_during_load"),
                latency.get("p50"),
                latency.get("p99"),
                pipe.get("latency_p99_second_half_ms"),
                step["drain_seconds"],
            ]
        )
    headers = [
        "offered/s",
        "achieved/s",
        "inbound",
        "sent",
        "sends/s",
        "p50 ms",
        "p99 ms",
        "p99 2nd half",
        "drain s",
    ]
    print()
    print_table(headers, rows)
    for step in result["steps"]:
        cpu = step["cpu_cores_during_load"]
        busiest = sorted(
            ((v, k) for k, v in cpu.items() if k not in ("machine_busy",)), reverse=True
        )[:6]
        print(
            f"  cores at {step['load']['offered_rate']:g}/s: "
            + ", ".join(f"{name} {value}" for value, name in busiest)
            + f" (machine {cpu['machine_busy']} of {os.cpu_count()})"
        )
        if step["unanswered"]["unanswered"]:
            trace = {k: v for k, v in step["unanswered"].items() if k != "inbound_ids"}
            print(f"    UNANSWERED after the drain: {trace}")
        activity = step["postgres_activity_during_load"]
        print(
            f"    postgres: {activity['active_backends_ours']} of our backends active on average"
            f" ({activity['active_backends_other_databases']} in other databases); busiest:"
        )
        for query in activity["top_queries"][:4]:
            print(
                f"      {query['active']:5.2f}  {query['app']} [{query['wait']}] {query['query']}"
            )


if __name__ == "__main__":
    benchkit.main("end_to_end", parse_args, run, report)
