"""Benchmark: one campaign step for 100,000 contacts, handed to `messages.outbound`.

    uv run python bench/campaigns.py [--contacts 100000] [--probes 40]

Starts a Tansu broker, a fresh database with the campaigns schema and ONE campaigns worker
process (`python -m switchboard.campaigns worker`: journey runner, scheduler, outbox relay).
Seeds `--contacts` contacts in the replica and an active campaign whose single step sends a
templated message, then enrolls them all at once through the same function the enrollment API
calls (`journeys.enrollment.enroll`), and reads `messages.outbound` until every message is there:

    handoff = last message seen on messages.outbound - enrollment started

Meanwhile it plans `--probes` single sends for another tenant, one due every 0.5 s (a rule's
message, as `POST /v1/events` would plan it), and measures how late each reaches the topic after
its due time: a due send must leave within 1 s at the 99th percentile while the bulk step runs.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import benchkit
import httpx
import uvloop
from aiokafka import AIOKafkaConsumer
from benchkit import (
    RESULTS_DIR,
    BenchDatabase,
    CpuSample,
    Histograms,
    Server,
    base_env,
    machine_facts,
    percentile,
    postgres_facts,
    postgres_server,
    postmaster_pid,
    print_table,
    topic_tail,
)
from sqlalchemy import select

from switchboard.campaigns.journeys.service import enrollment_service
from switchboard.campaigns.models import Campaign, CampaignVersion, EnrollmentJob
from switchboard.campaigns.policy.service import region_of
from switchboard.campaigns.timing import number_zone
from switchboard.common.db import Database, asyncpg_dsn
from switchboard.common.kafka import ensure_topics
from switchboard.common.migrations import migrate
from switchboard.contracts import Topic
from switchboard.devstack.infra import Broker, free_port

TEMPLATE = "Hi {{ contact.display_name | default('there') }}, our summer sale starts today."
ZONES = (
    "UTC",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Los_Angeles",
)


def daytime_zone() -> str:
    """A zone where it is between 09:00 and 19:00 now, so no send is held for quiet hours."""
    now = datetime.now(UTC)
    return next(z for z in ZONES if 9 <= now.astimezone(ZoneInfo(z)).hour < 19)


async def daytime_policy(conn: asyncpg.Connection, tenant_id: UUID, zone: str) -> None:
    await conn.execute(
        "INSERT INTO campaigns.sending_policies (tenant_id, send_window, region_windows,"
        " default_time_zone, updated_at) VALUES ($1, '{}', '{}', $2, now())",
        tenant_id,
        zone,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=40, help="single sends due during the run")
    parser.add_argument("--probe-interval", type=float, default=0.5, help="seconds")
    parser.add_argument("--patience", type=float, default=180.0, help="max seconds to wait")
    parser.add_argument(
        "--database-url",
        default=None,
        help="maintenance URL of a PostgreSQL server to use instead of the embedded one",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="campaigns worker processes (replicas)"
    )
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--py-spy", metavar="PATH", help="profile the worker with this py-spy")
    return parser.parse_args(argv)


@dataclass
class Outbound:
    """Counts the bulk tenant's messages and times the probes' as `messages.outbound` has them."""

    bootstrap: str
    bulk_tenant: str
    bulk_seen: int = 0
    last_bulk_at: float = 0.0
    probes_seen: dict[str, float] = field(default_factory=dict)
    """Probe idempotency key → wall time it was seen."""
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = await topic_tail(
            self.bootstrap, Topic.MESSAGES_OUTBOUND.value, "bench-outbound"
        )

    async def run(self) -> None:
        assert self._consumer is not None
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=100, max_records=5000)
                now = time.time()
                for records in batch.values():
                    for record in records:
                        event = json.loads(record.value)
                        if event["tenant_id"] == self.bulk_tenant:
                            self.bulk_seen += 1
                            self.last_bulk_at = now
                        else:
                            self.probes_seen[event["data"]["idempotency_key"]] = now
        finally:
            await self._consumer.stop()


async def seed(database_url: str, tenant_id: UUID, contacts: int, zone: str) -> Campaign:
    """The contacts (in campaigns' replica) and an active one-step campaign."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await daytime_policy(conn, tenant_id, zone)
        # As the replica's upsert stores them: the number's zone and region worked out once.
        rows = [
            (
                tenant_id,
                uuid4(),
                address := f"+1555{n:07d}",
                f"Contact {n}",
                "{}",
                False,
                number_zone(address),
                region_of(address),
                datetime.now(UTC),
            )
            for n in range(contacts)
        ]
        await conn.copy_records_to_table(
            "contacts",
            schema_name="campaigns",
            columns=[
                "tenant_id",
                "contact_id",
                "address",
                "display_name",
                "attributes",
                "blocked",
                "number_zone",
                "region",
                "updated_at",
            ],
            records=rows,
        )
    finally:
        await conn.close()
    db = Database(database_url, pool_size=1)
    campaign = Campaign(
        tenant_id=tenant_id,
        name="summer sale",
        status="active",
        trigger={"type": "manual"},
        event_attributes=[],
        exit_replies=[],
        reenroll=False,
        version=1,
    )
    async with db.transaction() as session:
        session.add(campaign)
        await session.flush()
        session.add(
            CampaignVersion(
                campaign_id=campaign.id, version=1, steps=[{"type": "send", "template": TEMPLATE}]
            )
        )
    await db.dispose()
    return campaign


async def enroll_all(database_url: str, campaign: Campaign, patience: float) -> float:
    """Enroll every contact as `POST /v1/campaigns/{id}/enrollments {"audience": "all"}` does
    (it records the job the workers carry out); returns the seconds until the job was done."""
    db = Database(database_url, pool_size=1)
    started = time.monotonic()
    async with db.transaction() as session:
        job = await enrollment_service.start_audience(session, campaign, "all", datetime.now(UTC))
    while time.monotonic() - started < patience:
        async with db.reads() as session:
            if (
                await session.scalar(select(EnrollmentJob.status).where(EnrollmentJob.id == job.id))
                != "running"
            ):
                break
        await asyncio.sleep(0.05)
    await db.dispose()
    return time.monotonic() - started


_PROBE = """
INSERT INTO campaigns.scheduled_sends
    (id, tenant_id, idempotency_key, to_address, channel, body, priority, requested_at, due_at,
     time_zone, status, created_at, updated_at)
VALUES ($1, $2, $3, '+15559990000', 'sms', 'Your order has shipped.', 0, $4, $4, $5,
        'scheduled', now(), now())
"""


async def probe(database_url: str, count: int, interval: float, zone: str) -> dict[str, float]:
    """Plan `count` sends for another tenant, each due 1 s after it is planned, one every
    `interval`; returns each one's key and due time (wall seconds)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    tenant_id = uuid4()
    due: dict[str, float] = {}
    try:
        await daytime_policy(conn, tenant_id, zone)
        for n in range(count):
            at = datetime.now(UTC) + timedelta(seconds=1)
            send_id = uuid4()
            await conn.execute(_PROBE, send_id, tenant_id, f"probe:{n}", at, zone)
            due[f"campaigns:{send_id}"] = at.timestamp()
            await asyncio.sleep(interval)
    finally:
        await conn.close()
    return due


async def measure(
    args: argparse.Namespace, broker: Broker, database_url: str, workers: list[Server]
) -> dict[str, Any]:
    tenant_id, zone = uuid4(), daytime_zone()
    campaign = await seed(database_url, tenant_id, args.contacts, zone)
    outbound = Outbound(broker.bootstrap_servers, str(tenant_id))
    await outbound.start()
    reading = asyncio.create_task(outbound.run())
    groups = {f"worker{n}": worker.pid for n, worker in enumerate(workers, start=1)}
    if broker.process is not None:
        groups["broker"] = broker.process.pid
    postmaster = await postmaster_pid(database_url)
    if postmaster is not None:
        groups["postgres"] = postmaster
    profiler = _profile(args, workers[0])
    before = CpuSample.take(groups, load_generator="self")
    started_wall, started = time.time(), time.monotonic()
    sampling = asyncio.create_task(stages(database_url, outbound, 1.0))
    probing = asyncio.create_task(probe(database_url, args.probes, args.probe_interval, zone))
    enrolled_in = await enroll_all(database_url, campaign, args.patience)
    deadline = started + args.patience
    await until(lambda: outbound.bulk_seen >= args.contacts, deadline)
    due = await probing
    await until(lambda: len(outbound.probes_seen) >= len(due), deadline)
    cpu = CpuSample.take(groups, load_generator="self").since(before)
    passes = await _passes(workers)
    sampling.cancel()
    progress = await sampling
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait()
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)
    lateness = [
        1000 * (outbound.probes_seen[k] - at) for k, at in due.items() if k in outbound.probes_seen
    ]
    handoff = outbound.last_bulk_at - started_wall if outbound.bulk_seen else None
    return {
        "contacts": args.contacts,
        "enrollment_seconds": round(enrolled_in, 2),
        "bulk_seen": outbound.bulk_seen,
        "handoff_seconds": round(handoff, 2) if handoff is not None else None,
        "messages_per_second": round(outbound.bulk_seen / handoff, 1) if handoff else None,
        "probes": len(due),
        "probes_seen": len(lateness),
        "probe_lateness_ms": {
            "p50": round(percentile(lateness, 50), 1) if lateness else None,
            "p99": round(percentile(lateness, 99), 1) if lateness else None,
            "max": round(max(lateness), 1) if lateness else None,
        },
        "cpu_cores_during_run": cpu,
        "passes": passes,
        "progress": {
            "columns": ["s", "not_advanced", "scheduled", "sent", "outbox", "on_topic"],
            "samples": progress,
        },
    }


def _profile(args: argparse.Namespace, worker: Server) -> subprocess.Popen[bytes] | None:
    if not args.py_spy:
        return None
    output = RESULTS_DIR / f"profile-campaigns-{worker.pid}.txt"
    command = [
        args.py_spy, "record", "--pid", str(worker.pid), "--nonblocking", "--rate", "100",
        "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    print(f"profiling into {output}", flush=True)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_STAGES = """
SELECT (SELECT count(*) FROM campaigns.enrollments WHERE status = 'active' AND step = 0) AS waiting,
       (SELECT count(*) FROM campaigns.scheduled_sends WHERE status = 'scheduled') AS scheduled,
       (SELECT count(*) FROM campaigns.scheduled_sends WHERE status = 'sent') AS sent,
       (SELECT count(*) FROM campaigns.outbox) AS outbox
"""


async def stages(database_url: str, outbound: Outbound, every: float) -> list[list[float]]:
    """Every `every` s: seconds since the start, enrollments not yet at their send, sends
    scheduled, sends sent, outbox rows waiting, messages seen on the topic."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    started = time.monotonic()
    samples: list[list[float]] = []
    try:
        while True:
            row = await conn.fetchrow(_STAGES)
            assert row is not None
            elapsed = round(time.monotonic() - started, 1)
            samples.append([elapsed, *row.values(), outbound.bulk_seen])
            await asyncio.sleep(every)
    except asyncio.CancelledError:
        return samples
    finally:
        await conn.close()


async def _passes(workers: list[Server]) -> dict[str, dict[str, float | None]]:
    """The journey runner's and the scheduler's passes, timed inside the workers."""
    found: dict[str, dict[str, float | None]] = {}
    async with httpx.AsyncClient() as client:
        for worker in workers:
            text = (await client.get(f"{worker.url}/metrics")).text
            histograms = Histograms.scrape(text, ["switchboard_campaigns_pass_duration_seconds"])
            found |= {f"{worker.name} {k}": v for k, v in histograms.quantiles(0.5, 0.99).items()}
    return found


async def until(done: Callable[[], bool], deadline: float) -> None:
    """Return once `done()` holds, or at the (monotonic) deadline."""
    while True:
        if done() or time.monotonic() >= deadline:
            return
        await asyncio.sleep(0.05)


def run(args: argparse.Namespace) -> dict[str, Any]:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    log_dir = RESULTS_DIR / f"campaigns-logs-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    with postgres_server(args.database_url, embedded=args.database_url is None) as server_url:
        database = BenchDatabase(server_url, keep=args.keep_database)
        database.create()
        broker = Broker(log_path=log_dir / "tansu.log").start()
        workers: list[Server] = []
        try:
            asyncio.run(ensure_topics(broker.bootstrap_servers))
            migrate("switchboard.campaigns:migrations", database.url)
            facts = postgres_facts(database.url)
            env = base_env(database.url, broker.bootstrap_servers)
            for n in range(1, args.workers + 1):
                port = free_port()
                worker_env = env | {
                    "PYTHONUNBUFFERED": "1",
                    "SWITCHBOARD_CAMPAIGNS_WORKER_PORT": str(port),
                }
                worker = Server(
                    f"campaigns-worker-{n}",
                    [sys.executable, "-m", "switchboard.campaigns", "worker"],
                    worker_env,
                    f"http://127.0.0.1:{port}",
                    log_path=log_dir / f"campaigns-worker-{n}.log",
                )
                workers.append(worker.start(timeout=120))
            measured = uvloop.run(measure(args, broker, database.url, workers))
            return {
                "benchmark": "campaigns",
                "settings": {k: v for k, v in vars(args).items() if k != "database_url"},
                "machine": machine_facts(),
                "postgres": {"database": database.name, **facts},
                "logs": str(log_dir),
                **measured,
            }
        finally:
            for worker in workers:
                worker.stop()
            broker.stop()
            database.drop()


def report(result: dict[str, Any]) -> None:
    lateness = result["probe_lateness_ms"]
    print()
    print_table(
        [
            "contacts",
            "enrolled in s",
            "on messages.outbound",
            "handoff s (target <= 30)",
            "msgs/s (target >= 3300)",
            "probe late p50/p99/max ms (target p99 <= 1000)",
        ],
        [
            [
                result["contacts"],
                result["enrollment_seconds"],
                result["bulk_seen"],
                result["handoff_seconds"],
                result["messages_per_second"],
                f"{lateness['p50']}/{lateness['p99']}/{lateness['max']} ({result['probes_seen']}"
                f"/{result['probes']})",
            ]
        ],
    )
    cpu = result["cpu_cores_during_run"]
    print("  cores: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))
    for series, row in result["passes"].items():
        print(f"  {series}: p50/p99 {row['p50']}/{row['p99']} s ({row['count']:g} passes)")
    print("  progress (" + ", ".join(result["progress"]["columns"]) + "):")
    for sample in result["progress"]["samples"]:
        print("    " + " ".join(f"{v:>8g}" for v in sample))


if __name__ == "__main__":
    benchkit.main("campaigns", parse_args, run, report)
