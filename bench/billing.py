"""Benchmark: billing's usage ingestion, and how fast a used-up quota reaches the replicas.

    uv run python bench/billing.py [--rate 5000] [--duration 30] [--subscribers 200]

Starts a Tansu broker, a fresh database with the billing, campaigns and conversation schemas,
`--billing-workers` billing worker processes (`python -m switchboard.billing worker`: the
`billing` consumer group on `usage` and `messages.status`, its outbox relay) and, unless
`--no-replicas`, one campaigns worker and one conversation worker, whose consumer groups keep
the `entitlements` replicas `campaigns.entitlements` and `conversation.entitlements`.

Publishes `usage.recorded` events (LLM tokens, keyed by tenant as their producers key them) at
`--rate` per second for `--duration` seconds (open loop) and measures

    sustained throughput = events / (last one in billing.usage_ledger - first one published)

with the ledger's row count, which must end equal to the facts published, and the group's lag
on its topics, which must return to zero. Meanwhile `--subscribers` end users on a tiny plan
(one message and 1,000 tokens a month) each get the one fact that uses their quota up (half an
SMS `sent` status on `messages.status`, half a `usage.recorded` of 1,000 tokens), and

    entitlement latency = exhausted entitlement visible in a replica - that event published

is measured in each replica table (polled) and on the `entitlements` topic itself. Afterwards a
slice of the events is published again (the same records, and the same facts under new event
ids): the ledger and the quota counters must not change. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import benchkit
import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from benchkit import (
    RESULTS_DIR,
    BenchDatabase,
    CpuSample,
    GroupLag,
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
    wait_for_quiet,
)

from switchboard.billing.models import Plan
from switchboard.billing.quotas.limits import Used, entitlement, signature
from switchboard.common.db import asyncpg_dsn
from switchboard.common.kafka import create_producer, ensure_topics
from switchboard.common.migrations import migrate
from switchboard.contracts import (
    AnyEvent,
    MessageStatusChanged,
    MessageStatusChangedData,
    Topic,
    UsageRecorded,
    UsageRecordedData,
    new_event_id,
    partition_key,
    topic_of,
)
from switchboard.devstack.infra import Broker, free_port

TINY_PLAN = "bench-tiny"
TINY_MESSAGES = 1
TINY_TOKENS = 1000
STAGE_HISTOGRAMS = (
    "kafka_consumer_processing_duration_seconds",
    "outbox_delay_seconds",
    "event_loop_lag_seconds",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=5000.0, help="usage events per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--tenants", type=int, default=100, help="tenants the usage is spread on")
    parser.add_argument("--contacts", type=int, default=50, help="end users per tenant")
    parser.add_argument(
        "--subscribed",
        type=float,
        default=0.5,
        help="share of those end users with a subscription (Basic); tenants are on Unlimited",
    )
    parser.add_argument(
        "--subscribers", type=int, default=200, help="end users on the tiny plan, used up once"
    )
    parser.add_argument(
        "--probe-window",
        type=float,
        nargs=2,
        default=(0.2, 0.8),
        metavar=("FROM", "TO"),
        help="the part of the load the tiny plans are used up in (fractions of --duration)",
    )
    parser.add_argument(
        "--redeliver", type=int, default=10_000, help="events published again afterwards"
    )
    parser.add_argument("--billing-workers", type=int, default=1, help="billing worker processes")
    parser.add_argument(
        "--no-replicas",
        action="store_true",
        help="no campaigns and conversation workers: the entitlements topic only",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=0.02, help="seconds between replica polls"
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="max seconds to wait without progress"
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=None,
        metavar="CORES",
        help="before the load, wait (up to 300 s) until the machine uses <= CORES",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="maintenance URL of a PostgreSQL server to use instead of the embedded one",
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop sb_bench_*")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the billing workers (repeatable)",
    )
    parser.add_argument(
        "--py-spy", metavar="PATH", help="profile the first billing worker during the load"
    )
    return parser.parse_args(argv)


# What is published ----------------------------------------------------------------------------


@dataclass
class Record:
    """One record to publish: at `at` seconds into the load, with its producer's key."""

    at: float
    topic: str
    key: bytes
    value: bytes
    event: AnyEvent
    probe: Probe | None = None
    partition: int = -1
    """Worked out before the load (`Publisher.place`)."""


@dataclass
class Probe:
    """An end user on the tiny plan, and the one fact that uses it up."""

    tenant_id: UUID
    address: str
    kind: str
    """`sms` (a `sent` status: one message) or `tokens` (a model call of 1,000 tokens)."""
    produced_wall: float | None = None
    produced: float | None = None
    seen: dict[str, float] = field(default_factory=dict)
    """Where the used-up entitlement was seen (`topic`, `campaigns`, `conversation`) → when
    (monotonic)."""
    relayed_wall: float | None = None
    """The `entitlement.changed` record's timestamp: when billing's outbox relay produced it."""
    ledger_wall: float | None = None
    """The ledger row's `recorded_at`: when billing's transaction that took the fact began."""


@dataclass
class Expected:
    """What the ledger and the counters must hold: each fact once."""

    facts: set[tuple[UUID, str, str]] = field(default_factory=set)
    tenant_tokens: int = 0
    tenant_messages: int = 0

    def add(self, event: AnyEvent) -> None:
        if isinstance(event, UsageRecorded):
            fact = (event.tenant_id, event.data.kind, event.data.source_id)
            if fact not in self.facts:
                self.facts.add(fact)
                self.tenant_tokens += event.data.quantity
        elif isinstance(event, MessageStatusChanged):
            fact = (event.tenant_id, "sms_segments", str(event.data.message_id))
            if fact not in self.facts:
                self.facts.add(fact)
                self.tenant_messages += 1


def record(event: AnyEvent, at: float = 0.0, probe: Probe | None = None) -> Record:
    """The event as its producer publishes it: its topic, its key (`partition_key`)."""
    return Record(
        at,
        topic_of(event).value,
        partition_key(event),
        event.model_dump_json().encode(),
        event,
        probe,
    )


def llm_usage(tenant_id: UUID, address: str, tokens: int) -> UsageRecorded:
    """A chat reply's model call, as the conversation service reports it."""
    data = UsageRecordedData(
        kind="llm_tokens",
        quantity=tokens,
        cost=Decimal(tokens) * Decimal("0.000002"),
        source_id=f"llm:{uuid4()}",
        contact_address=address,
        channel="sms",
        provider="offline",
        model="echo-1",
        input_tokens=tokens * 3 // 4,
        output_tokens=tokens - tokens * 3 // 4,
        latency_ms=800,
        purpose="chat",
    )
    return UsageRecorded.create(tenant_id, data)


def sms_sent(tenant_id: UUID, address: str) -> MessageStatusChanged:
    """The gateway's `sent` status of a one-segment SMS (a campaign's send)."""
    data = MessageStatusChangedData(
        message_id=new_event_id(),
        idempotency_key=f"bench:{uuid4()}",
        origin="campaign",
        channel="sms",
        to_address=address,
        status="sent",
        provider="twilio",
        provider_message_id=f"SM{uuid4().hex}",
        segments=1,
    )
    return MessageStatusChanged.create(tenant_id, data)


def exhausting(probe: Probe) -> AnyEvent:
    if probe.kind == "sms":
        return sms_sent(probe.tenant_id, probe.address)
    return llm_usage(probe.tenant_id, probe.address, TINY_TOKENS)


@dataclass
class Population:
    tenants: list[UUID]
    contacts: dict[UUID, list[str]]
    probes: list[Probe]


def population(args: argparse.Namespace) -> Population:
    tenants = [uuid4() for _ in range(args.tenants)]
    contacts = {
        tenant: [f"+1555{t:03d}{c:04d}" for c in range(args.contacts)]
        for t, tenant in enumerate(tenants)
    }
    probes = [
        Probe(tenants[n % len(tenants)], f"+1777{n:07d}", "sms" if n % 2 == 0 else "tokens")
        for n in range(args.subscribers)
    ]
    return Population(tenants, contacts, probes)


def load(args: argparse.Namespace, people: Population, rng: random.Random) -> list[Record]:
    """`rate * duration` usage events on a fixed schedule, the probes' facts spread through
    `--probe-window`."""
    count = round(args.rate * args.duration)
    records = []
    for n in range(count):
        tenant = rng.choice(people.tenants)
        address = rng.choice(people.contacts[tenant])
        event = llm_usage(tenant, address, rng.randint(200, 2000))
        records.append(record(event, n / args.rate))
    start, end = args.probe_window
    step = (end - start) * args.duration / max(1, len(people.probes))
    for n, probe in enumerate(people.probes):
        records.append(record(exhausting(probe), (start * args.duration) + n * step, probe))
    records.sort(key=lambda r: r.at)
    return records


class Publisher:
    """Publishes records a batch per partition (`create_batch`/`send_batch`: far less CPU per
    record than `send`), each to the partition `send` would pick for its key (aiokafka's
    default partitioner, murmur2 of the key)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.partitions: dict[str, list[int]] = {}
        self._partitioner = DefaultPartitioner()

    async def start(self, topics: list[str]) -> Publisher:
        for topic in topics:
            self.partitions[topic] = sorted(await self.producer.partitions_for(topic))
        return self

    def partition(self, item: Record) -> int:
        if item.partition < 0:
            every = self.partitions[item.topic]
            item.partition = int(self._partitioner(item.key, every, every))
        return item.partition

    def place(self, records: list[Record]) -> None:
        """Work out every record's partition up front (murmur2 in Python is not free)."""
        for item in records:
            self.partition(item)

    async def send(self, items: list[Record]) -> list[asyncio.Future[Any]]:
        """Queue these records, a batch per partition; the futures of their acknowledgements."""
        by_partition: dict[tuple[str, int], list[Record]] = {}
        for item in items:
            by_partition.setdefault((item.topic, self.partition(item)), []).append(item)
        acks = []
        for (topic, partition), group in by_partition.items():
            batch = self.producer.create_batch()
            for item in group:
                if item.probe is not None:
                    item.probe.produced_wall = time.time()
                    item.probe.produced = time.monotonic()
                if batch.append(key=item.key, value=item.value, timestamp=None) is None:
                    acks.append(await self.producer.send_batch(batch, topic, partition=partition))
                    batch = self.producer.create_batch()
                    batch.append(key=item.key, value=item.value, timestamp=None)
            acks.append(await self.producer.send_batch(batch, topic, partition=partition))
        return acks

    async def publish(self, records: list[Record], rate_limited: bool = True) -> float:
        """Publish each record at its slot (open loop: every 5 ms, the records whose time has
        come, together), or all at once; waits for every acknowledgement. Returns the worst lag
        behind schedule (seconds)."""
        started = time.monotonic()
        acks: list[asyncio.Future[Any]] = []
        worst = 0.0
        index = 0
        while index < len(records):
            now = time.monotonic() - started
            if rate_limited:
                worst = max(worst, now - records[index].at)
            upto = index
            while upto < len(records) and (not rate_limited or records[upto].at <= now):
                upto += 1
                if not rate_limited and upto - index >= 5000:
                    break
            acks += await self.send(records[index:upto])
            index = upto
            if index < len(records):
                await asyncio.sleep(max(0.0, min(0.005, records[index].at - now)))
        await asyncio.gather(*acks)
        return worst


# Where the used-up entitlements show ----------------------------------------------------------


@dataclass
class EntitlementsTopic:
    """Reads `entitlements` from its end (no group): when each probe's used-up word came out."""

    bootstrap: str
    probes: dict[str, Probe]
    published: int = 0
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        # 25 ms: a fine enough resolution against a 1 s target, and fewer empty fetches
        # for the broker, which shares the two cores with what is measured.
        self._consumer = await topic_tail(
            self.bootstrap, Topic.ENTITLEMENTS.value, "bench-entitlements", fetch_max_wait_ms=25
        )

    async def run(self) -> None:
        assert self._consumer is not None
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=100, max_records=1000)
                now = time.monotonic()
                for records in batch.values():
                    for item in records:
                        self.published += 1
                        data = json.loads(item.value)["data"]
                        probe = self.probes.get(data.get("contact_address") or "")
                        if probe is None or "topic" in probe.seen:
                            continue
                        if any(left <= 0 for left in data.get("remaining", {}).values()):
                            probe.seen["topic"] = now
                            probe.relayed_wall = item.timestamp / 1000
        finally:
            await self._consumer.stop()


_REPLICAS = {
    "campaigns": "SELECT contact_address FROM campaigns.entitlements",
    "conversation": "SELECT contact_address FROM conversation.entitlements",
}
_USED_UP = (
    " WHERE contact_address = ANY($1::text[])"
    " AND EXISTS (SELECT 1 FROM jsonb_each_text(remaining) r WHERE r.value::numeric <= 0)"
)


async def poll_replicas(
    database_url: str, probes: dict[str, Probe], replicas: list[str], interval: float
) -> int:
    """Every `interval`: which probes' replica rows say used up; returns the polls made."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    polls = 0
    try:
        while True:
            for replica in replicas:
                pending = [a for a, p in probes.items() if replica not in p.seen]
                if not pending:
                    continue
                rows = await conn.fetch(_REPLICAS[replica] + _USED_UP, pending)
                now = time.monotonic()
                for row in rows:
                    probes[row["contact_address"]].seen.setdefault(replica, now)
            polls += 1
            await asyncio.sleep(interval)
    except asyncio.CancelledError:
        return polls
    finally:
        await conn.close()


# The run --------------------------------------------------------------------------------------


@dataclass
class Progress:
    """Every `interval`: the ledger's rows and the billing group's lag."""

    database_url: str
    lag: GroupLag
    interval: float = 0.25
    started: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    """(seconds since `started`, ledger rows, lag)."""
    rows: int = 0
    last_lag: int = -1
    lag_at: float = 0.0
    """When (monotonic) `last_lag` was asked for."""
    _ticks: int = 0

    async def run(self) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
        try:
            while True:
                self.rows = int(await conn.fetchval("SELECT count(*) FROM billing.usage_ledger"))
                if self._ticks % 2 == 0:  # the lag every other sample: it takes a few requests
                    asked = time.monotonic()
                    self.last_lag = await self.lag.lag()
                    self.lag_at = asked
                self._ticks += 1
                now = round(time.monotonic() - self.started, 2)
                self.samples.append((now, self.rows, self.last_lag))
                await asyncio.sleep(self.interval)
        finally:
            await conn.close()

    def reached(self, rows: int) -> float | None:
        """When (monotonic) the ledger first had `rows` rows."""
        return next((self.started + s for s, n, _ in self.samples if n >= rows), None)


async def wait_settled(progress: Progress, rows: int, patience: float) -> bool:
    """Until the ledger has `rows` rows and the group's lag, asked after this call, is 0, or
    nothing moves for `patience` s."""
    since = time.monotonic()
    last, moved = (-1, -1), since
    while True:
        state = (progress.rows, progress.last_lag)
        if progress.rows >= rows and progress.last_lag == 0 and progress.lag_at >= since:
            return True
        if state != last:
            last, moved = state, time.monotonic()
        elif time.monotonic() - moved > patience:
            return False
        await asyncio.sleep(0.1)


@dataclass
class Bench:
    args: argparse.Namespace
    billing: list[Server]
    replicas: list[Server]
    broker: Broker
    database_url: str
    people: Population
    expected: Expected = field(default_factory=Expected)

    async def run(self) -> dict[str, Any]:
        args = self.args
        producer = create_producer(self.broker.bootstrap_servers, client_id="bench-usage")
        await producer.start()
        publisher = await Publisher(producer).start(
            [Topic.USAGE.value, Topic.MESSAGES_STATUS.value]
        )
        lag = await GroupLag(
            self.broker.bootstrap_servers,
            "billing",
            [Topic.USAGE.value, Topic.MESSAGES_STATUS.value],
        ).start()
        progress = Progress(self.database_url, lag)
        sampling = asyncio.create_task(progress.run())
        probes = {p.address: p for p in self.people.probes}
        topic = EntitlementsTopic(self.broker.bootstrap_servers, probes)
        await topic.start()
        reading = asyncio.create_task(topic.run())
        try:
            warm = await self._warm_up(publisher, progress)
            rng = random.Random(7)
            print(f"building {round(args.rate * args.duration):,} events...", flush=True)
            records = load(args, self.people, rng)
            for item in records:
                self.expected.add(item.event)
            publisher.place(records)
            measured = await self._load(publisher, progress, records, probes)
            measured["warm_up_seconds"] = warm
            measured["entitlements_published"] = topic.published
            measured["redelivery"] = await self._redeliver(publisher, progress, records, rng)
            measured["check"] = await self._check()
            measured["progress"] = {
                "columns": ["s", "ledger_rows", "lag"],
                "samples": progress.samples[:: max(1, round(1 / progress.interval))],
            }
            return measured
        finally:
            for task in (sampling, reading):
                task.cancel()
            await asyncio.gather(sampling, reading, return_exceptions=True)
            await lag.stop()
            await producer.stop()

    async def _warm_up(self, publisher: Publisher, progress: Progress) -> float:
        """Usage from every tenant, and two extra tiny subscribers used up, until every group
        has joined: the ledger has it all and both replicas show the two."""
        started = time.monotonic()
        warm = [record(llm_usage(t, self.people.contacts[t][0], 100)) for t in self.people.tenants]
        extra = [
            Probe(self.people.tenants[0], f"+1778000000{n}", k)
            for n, k in enumerate(("sms", "tokens"))
        ]
        warm += [record(exhausting(p), probe=p) for p in extra]
        for item in warm:
            self.expected.add(item.event)
        await _subscribe_tiny(self.database_url, extra)
        watched = {p.address: p for p in extra}
        polling = asyncio.create_task(
            poll_replicas(self.database_url, watched, self._replica_names(), 0.1)
        )
        await publisher.publish(warm, rate_limited=False)
        settled = await wait_settled(progress, len(self.expected.facts), 120.0)
        while not all(len(p.seen) == len(self._replica_names()) for p in extra):
            if time.monotonic() - started > 180:
                raise RuntimeError("the replicas did not show the warm-up entitlements; see logs")
            await asyncio.sleep(0.1)
        polling.cancel()
        await polling
        if not settled:
            raise RuntimeError("billing did not take the warm-up usage; see its log")
        took = time.monotonic() - started
        print(f"warm-up: every group joined after {took:.1f}s", flush=True)
        return round(took, 1)

    def _replica_names(self) -> list[str]:
        return [] if self.args.no_replicas else ["campaigns", "conversation"]

    async def _load(
        self,
        publisher: Publisher,
        progress: Progress,
        records: list[Record],
        probes: dict[str, Probe],
    ) -> dict[str, Any]:
        args = self.args
        busy_before = await asyncio.to_thread(wait_for_quiet, args.quiet, 300.0)
        groups = {w.name: w.pid for w in self.billing + self.replicas}
        if self.broker.process is not None:
            groups["broker"] = self.broker.process.pid
        postmaster = await postmaster_pid(self.database_url)
        if postmaster is not None:
            groups["postgres"] = postmaster
        stages_before = await self._stages()
        rows_before = progress.rows
        expected_rows = len(self.expected.facts)
        polling = asyncio.create_task(
            poll_replicas(self.database_url, probes, self._replica_names(), args.poll_interval)
        )
        profiler = self._profile()
        print(f"offering {args.rate:g} usage events/s for {args.duration:g}s...", flush=True)
        before = CpuSample.take(groups, load_generator="self")
        started = time.monotonic()
        schedule_lag = await publisher.publish(records)
        offered = time.monotonic() - started
        at_end_of_load = (progress.rows, progress.last_lag)
        cpu_load = CpuSample.take(groups, load_generator="self").since(before)
        settled = await wait_settled(progress, expected_rows, args.drain)
        done_at = progress.reached(expected_rows)
        cpu_all = CpuSample.take(groups, load_generator="self").since(before)
        stages = (await self._stages()).since(stages_before)
        # The replicas may still be applying the last entitlements.
        wanted = 1 + len(self._replica_names())
        await until(lambda: all(len(p.seen) >= wanted for p in probes.values()), 10.0)
        polling.cancel()
        polls = await polling
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait()
        facts = len(records)
        drained = done_at - started if done_at is not None else None
        during = [
            (s, n)
            for s, n, _ in progress.samples
            if started <= progress.started + s <= started + offered
        ]
        return {
            "offered": {
                "events": facts,
                "rate": args.rate,
                "achieved_rate": round(facts / offered, 1),
                "max_schedule_lag_ms": round(1000 * schedule_lag, 1),
            },
            "ingestion": {
                "settled": settled,
                "ledger_rows_expected": expected_rows,
                "ledger_rows": progress.rows,
                "seconds_until_last_in_ledger": round(drained, 2) if drained else None,
                "sustained_per_second": round(facts / drained, 1) if drained else None,
                "in_ledger_at_end_of_load": at_end_of_load[0] - rows_before,
                "lag_at_end_of_load": at_end_of_load[1],
                "lag_peak": max((lag for _, _, lag in progress.samples), default=0),
                "ledger_per_second_during_load": _rate_during(during),
            },
            "entitlements": self._latencies(probes),
            "replica_polls": polls,
            "billing_stages": stages.quantiles(0.5, 0.99),
            "cpu_cores_during_load": cpu_load,
            "cpu_cores_until_drained": cpu_all,
            "machine_busy_cores_before": busy_before,
        }

    def _latencies(self, probes: dict[str, Probe]) -> dict[str, Any]:
        result: dict[str, Any] = {"subscribers": len(probes)}
        for where in ("topic", *self._replica_names()):
            values = [
                p.seen[where] - p.produced
                for p in probes.values()
                if where in p.seen and p.produced is not None
            ]
            result[where] = {"seen": len(values), **_ms(values)}
            for kind in ("sms", "tokens"):
                of_kind = [
                    p.seen[where] - p.produced
                    for p in probes.values()
                    if p.kind == kind and where in p.seen and p.produced is not None
                ]
                result[where][kind] = _ms(of_kind)
        if self._replica_names():
            slowest = [
                max(p.seen[r] for r in self._replica_names()) - p.produced
                for p in probes.values()
                if p.produced is not None and all(r in p.seen for r in self._replica_names())
            ]
            result["every_replica"] = {"seen": len(slowest), **_ms(slowest)}
        relayed = [
            p.relayed_wall - p.produced_wall
            for p in probes.values()
            if p.relayed_wall is not None and p.produced_wall is not None
        ]
        result["until_relayed"] = _ms(relayed)
        return result

    async def _redeliver(
        self,
        publisher: Publisher,
        progress: Progress,
        records: list[Record],
        rng: random.Random,
    ) -> dict[str, Any]:
        """A slice published again, as fast as it goes: half the very same records (a
        redelivery: the inbox drops them), half the same facts under new event ids (a producer
        that reported a fact twice: the ledger's key drops them)."""
        count = min(self.args.redeliver, len(records))
        if not count:
            return {}
        rows_before = progress.rows
        chosen = rng.sample(records, count)
        again = chosen[: count // 2] + [
            record(item.event.model_copy(update={"event_id": new_event_id()}))
            for item in chosen[count // 2 :]
        ]
        duplicates_before = await self._duplicates()
        started = time.monotonic()
        await publisher.publish(again, rate_limited=False)
        # The ledger must not move: wait for the lag to return to zero.
        settled = await wait_settled(progress, rows_before, self.args.drain)
        took = time.monotonic() - started
        return {
            "records": count,
            "same_records": count // 2,
            "same_facts_new_ids": count - count // 2,
            "lag_back_to_zero_seconds": round(took, 2) if settled else None,
            "settled": settled,
            "ledger_rows_before": rows_before,
            "ledger_rows_after": progress.rows,
            "inbox_duplicates": (await self._duplicates()) - duplicates_before,
        }

    async def _check(self) -> dict[str, Any]:
        """The ledger holds each fact once; the tenants' monthly counters add up to them."""
        conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
        try:
            rows = await conn.fetchval("SELECT count(*) FROM billing.usage_ledger")
            distinct = await conn.fetchval(
                "SELECT count(DISTINCT (tenant_id, kind, source_id)) FROM billing.usage_ledger"
            )
            counted = await conn.fetchrow(
                "SELECT coalesce(sum(llm_tokens), 0) AS tokens,"
                " coalesce(sum(messages), 0) AS messages FROM billing.quota_counters"
                " WHERE contact_address = '' AND period = 'month'"
            )
            assert counted is not None
            ledger_tokens = await conn.fetchval(
                "SELECT coalesce(sum(quantity), 0) FROM billing.usage_ledger"
                " WHERE kind = 'llm_tokens'"
            )
        finally:
            await conn.close()
        expected = self.expected
        return {
            "ledger_rows": rows,
            "distinct_facts": distinct,
            "expected_facts": len(expected.facts),
            "duplicates": rows - len(expected.facts),
            "tenant_tokens_counted": int(counted["tokens"]),
            "tenant_tokens_expected": expected.tenant_tokens,
            "ledger_tokens": int(ledger_tokens),
            "tenant_messages_counted": int(counted["messages"]),
            "tenant_messages_expected": expected.tenant_messages,
            "ok": rows == distinct == len(expected.facts)
            and int(counted["tokens"]) == expected.tenant_tokens == int(ledger_tokens)
            and int(counted["messages"]) == expected.tenant_messages,
        }

    async def _stages(self) -> Histograms:
        """The billing workers' per-record, outbox and loop-lag histograms, added up."""
        total = Histograms()
        async with httpx.AsyncClient() as client:
            for worker in self.billing:
                text = (await client.get(f"{worker.url}/metrics")).text
                for series, counts in Histograms.scrape(text, STAGE_HISTOGRAMS).buckets.items():
                    mine = total.buckets.setdefault(series, {})
                    for le, n in counts.items():
                        mine[le] = mine.get(le, 0) + n
        return total

    async def _duplicates(self) -> int:
        """Records the billing group's inbox dropped as already processed."""
        found = 0.0
        async with httpx.AsyncClient() as client:
            for worker in self.billing:
                for line in (await client.get(f"{worker.url}/metrics")).text.splitlines():
                    if (
                        line.startswith("kafka_consumer_messages_total{")
                        and 'outcome="duplicate"' in line
                    ):
                        found += float(line.rsplit(" ", 1)[1])
        return round(found)

    def _profile(self) -> subprocess.Popen[bytes] | None:
        if not self.args.py_spy:
            return None
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        worker = self.billing[0]
        output = RESULTS_DIR / f"profile-billing-{worker.pid}.txt"
        command = [
            self.args.py_spy, "record", "--pid", str(worker.pid), "--nonblocking", "--rate", "100",
            "--format", "raw", "--output", str(output),
        ]  # fmt: skip
        print(f"profiling into {output}", flush=True)
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def until(done: Callable[[], bool], patience: float) -> None:
    """Return once `done()` holds, or after `patience` seconds."""
    deadline = time.monotonic() + patience
    while not done() and time.monotonic() < deadline:  # noqa: ASYNC110 - polled state
        await asyncio.sleep(0.05)


def _rate_during(samples: list[tuple[float, int]]) -> float | None:
    """Ledger rows per second over the load window (first to last sample in it)."""
    if len(samples) < 2:
        return None
    (s0, n0), (s1, n1) = samples[0], samples[-1]
    return round((n1 - n0) / (s1 - s0), 1) if s1 > s0 else None


def _ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": round(1000 * percentile(values, 50), 1),
        "p99": round(1000 * percentile(values, 99), 1),
        "max": round(1000 * max(values), 1),
    }


# Seeding --------------------------------------------------------------------------------------


def _announced(plan: Plan, address: str) -> str:
    """What billing marks a subscription as published when it starts: nothing used yet."""
    return json.dumps(signature(entitlement(plan, "active", address, Used())))


async def _plans(conn: asyncpg.Connection) -> dict[str, Plan]:
    rows = await conn.fetch(
        "SELECT id, messages_daily, messages_monthly, llm_tokens_monthly, overage_price"
        " FROM billing.plans"
    )
    return {row["id"]: Plan(**dict(row)) for row in rows}


_SUBSCRIBE = """
INSERT INTO billing.subscriptions (id, tenant_id, contact_address, plan_id, state, announced)
VALUES ($1, $2, $3, $4, 'active', $5::jsonb)
"""


async def seed(database_url: str, people: Population, subscribed: float) -> dict[str, int]:
    """The tiny plan, and the subscriptions (as `PUT .../subscription` leaves them, their
    entitlement marked published): tenants on Unlimited, a share of their end users on Basic,
    the probes on the tiny plan."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(
            "INSERT INTO billing.plans (id, name, price, currency, interval, per_line,"
            " messages_monthly, llm_tokens_monthly, features, active)"
            " VALUES ($1, 'Bench tiny', 0, 'USD', 'month', false, $2, $3, '[]', true)",
            TINY_PLAN,
            TINY_MESSAGES,
            TINY_TOKENS,
        )
        plans = await _plans(conn)
        rows = [
            (new_event_id(), t, "", "unlimited", _announced(plans["unlimited"], ""))
            for t in people.tenants
        ]
        basic = 0
        for tenant, addresses in people.contacts.items():
            for address in addresses[: round(len(addresses) * subscribed)]:
                rows.append(
                    (new_event_id(), tenant, address, "basic", _announced(plans["basic"], address))
                )
                basic += 1
        rows += [
            (
                new_event_id(),
                p.tenant_id,
                p.address,
                TINY_PLAN,
                _announced(plans[TINY_PLAN], p.address),
            )
            for p in people.probes
        ]
        await conn.executemany(_SUBSCRIBE, rows)
        await conn.execute("ANALYZE billing.subscriptions")
    finally:
        await conn.close()
    return {
        "tenants_unlimited": len(people.tenants),
        "end_users_basic": basic,
        "tiny": len(people.probes),
    }


async def _subscribe_tiny(database_url: str, probes: list[Probe]) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        plan = (await _plans(conn))[TINY_PLAN]
        await conn.executemany(
            _SUBSCRIBE,
            [
                (new_event_id(), p.tenant_id, p.address, TINY_PLAN, _announced(plan, p.address))
                for p in probes
            ],
        )
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    log_dir = RESULTS_DIR / f"billing-logs-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    services = ["billing"] + ([] if args.no_replicas else ["campaigns", "conversation"])
    tree = _tree()  # now: the billing code may change while the run goes on
    with postgres_server(args.database_url, embedded=args.database_url is None) as server_url:
        database = BenchDatabase(server_url, keep=args.keep_database)
        database.create()
        broker = Broker(log_path=log_dir / "tansu.log").start()
        started: list[Server] = []
        try:
            asyncio.run(ensure_topics(broker.bootstrap_servers))
            for service in services:
                migrate(f"switchboard.{service}:migrations", database.url)
            facts = postgres_facts(database.url)
            people = population(args)
            seeded = asyncio.run(seed(database.url, people, args.subscribed))
            env = base_env(database.url, broker.bootstrap_servers) | {"PYTHONUNBUFFERED": "1"}
            billing = []
            for n in range(1, args.billing_workers + 1):
                worker_env = env | dict(item.split("=", 1) for item in args.worker_env)
                billing.append(_worker("billing", n, worker_env, log_dir))
                started.append(billing[-1].start(timeout=120))
            replicas = []
            for service in services[1:]:
                replicas.append(_worker(service, 1, env, log_dir))
                started.append(replicas[-1].start(timeout=120))
            bench = Bench(args, billing, replicas, broker, database.url, people)
            measured = uvloop.run(bench.run())
            return {
                "benchmark": "billing",
                "settings": {k: v for k, v in vars(args).items() if k != "database_url"},
                "machine": machine_facts(),
                "postgres": {"database": database.name, "server": _server_name(args), **facts},
                "tree": tree,
                "seeded": seeded,
                "logs": str(log_dir),
                **measured,
            }
        finally:
            for server in started:
                server.stop()
            broker.stop()
            database.drop()


def _worker(service: str, n: int, env: dict[str, str], log_dir: Any) -> Server:
    port = free_port()
    return Server(
        f"{service}-worker-{n}",
        [sys.executable, "-m", f"switchboard.{service}", "worker"],
        env | {f"SWITCHBOARD_{service.upper()}_WORKER_PORT": str(port)},
        f"http://127.0.0.1:{port}",
        log_path=log_dir / f"{service}-worker-{n}.log",
    )


def _server_name(args: argparse.Namespace) -> str:
    return "embedded (pgserver)" if args.database_url is None else "given (--database-url)"


def _tree() -> dict[str, str]:
    """The commit measured, and whether billing's code had uncommitted changes."""

    def git(*command: str) -> str:
        return subprocess.run(
            ["git", *command], capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted": git("status", "--porcelain", "--", "services", "libs"),
        "pythonpath": os.environ.get("PYTHONPATH", ""),
    }


def report(result: dict[str, Any]) -> None:
    offered, ingestion = result["offered"], result["ingestion"]
    check, latencies = result["check"], result["entitlements"]
    print()
    print_table(
        [
            "offered/s",
            "events",
            "until last in ledger s",
            "sustained/s (target >= 5000)",
            "during load/s",
            "lag peak",
            "ledger = facts",
            "duplicates",
        ],
        [
            [
                f"{offered['rate']:g}",
                offered["events"],
                ingestion["seconds_until_last_in_ledger"],
                ingestion["sustained_per_second"],
                ingestion["ledger_per_second_during_load"],
                ingestion["lag_peak"],
                f"{check['ledger_rows']} / {check['expected_facts']}",
                check["duplicates"],
            ]
        ],
    )
    print()
    rows = []
    for where in ("topic", "campaigns", "conversation", "every_replica"):
        if where in latencies:
            row = latencies[where]
            rows.append(
                [
                    where,
                    f"{row['seen']}/{latencies['subscribers']}",
                    row["p50"],
                    row["p99"],
                    row["max"],
                ]
            )
    print_table(
        ["entitlement seen in", "subscribers", "p50 ms", "p99 ms (target <= 1000)", "max ms"], rows
    )
    relayed = latencies["until_relayed"]
    print(
        "  produced -> billing's relay published it: p50/p99/max "
        f"{relayed['p50']}/{relayed['p99']}/{relayed['max']} ms"
    )
    for where in ("campaigns", "conversation"):
        if where in latencies:
            sms, tokens = latencies[where]["sms"], latencies[where]["tokens"]
            print(
                f"  {where}: used up by an SMS p50/p99 {sms['p50']}/{sms['p99']} ms, "
                f"by tokens {tokens['p50']}/{tokens['p99']} ms"
            )
    cpu = result["cpu_cores_during_load"]
    print("  cores during load: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))
    redelivery = result["redelivery"]
    if redelivery:
        print(
            f"  redelivered {redelivery['records']} ({redelivery['same_records']} same records, "
            f"{redelivery['same_facts_new_ids']} same facts with new ids): ledger "
            f"{redelivery['ledger_rows_before']} -> {redelivery['ledger_rows_after']}, inbox "
            f"dropped {redelivery['inbox_duplicates']}, lag back to 0 in "
            f"{redelivery['lag_back_to_zero_seconds']} s"
        )
    print(
        f"  check: ledger {check['ledger_rows']} rows, {check['distinct_facts']} distinct, "
        f"{check['expected_facts']} expected; tenant tokens {check['tenant_tokens_counted']} / "
        f"{check['tenant_tokens_expected']}; messages {check['tenant_messages_counted']} / "
        f"{check['tenant_messages_expected']}: {'OK' if check['ok'] else 'MISMATCH'}"
    )
    for series, row in result.get("billing_stages", {}).items():
        values = "/".join(f"{(v or 0) * 1000:.1f}" for k, v in row.items() if k != "count")
        print(f"  {series}: p50/p99 {values} ms ({row['count']:g})")


if __name__ == "__main__":
    benchkit.main("billing", parse_args, run, report)
