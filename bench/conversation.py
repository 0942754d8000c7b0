"""Benchmark: one conversation worker answering contacts through a model that takes seconds.

    uv run python bench/conversation.py [--rate 400] [--duration 30] [--latency 2]

Starts a Tansu broker, a fresh database with the conversation schema and ONE conversation worker
process (`python -m switchboard.conversation worker`) whose model is the offline provider made to
take `--latency` seconds per call. Publishes `message.received` events to `messages.inbound` on a
fixed schedule (open loop): mostly one message per contact, plus a few contacts sending bursts of
messages in a row. Reads the replies (`message.requested` on `messages.outbound`) as they come
and reports the replies per second sustained, the records in flight in the worker, its memory,
each contact's reply order, and the latency Switchboard adds around the model call:

    added = reply seen on messages.outbound - message published - model latency

See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import benchkit
import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from benchkit import (
    BENCH_DIR,
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
    random_number,
    topic_tail,
    wait_for_quiet,
)

from switchboard.common.kafka import create_producer, ensure_topics
from switchboard.common.migrations import migrate
from switchboard.contracts import (
    MessageReceived,
    MessageReceivedData,
    Topic,
    contact_key,
    new_event_id,
)
from switchboard.devstack.infra import Broker, free_port

STAGE_HISTOGRAMS = (
    "batch_wait_seconds",
    "batch_duration_seconds",
    "batch_items",
    "outbox_delay_seconds",
    "event_loop_lag_seconds",
)
IN_FLIGHT_METRIC = 'kafka_consumer_in_flight_records{consumer="conversation"}'
BACKLOG_METRIC = 'outbox_backlog_events{schema="conversation"}'
BODY = "Hi! Is my order #4412 on its way?"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=400.0, help="messages offered per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per model call")
    parser.add_argument(
        "--bursts", type=int, default=20, help="contacts that send several messages in a row"
    )
    parser.add_argument("--burst-size", type=int, default=5, help="messages in each burst")
    parser.add_argument(
        "--drain", type=float, default=30.0, help="max seconds to wait without a new reply"
    )
    parser.add_argument("--sample-interval", type=float, default=0.25, help="seconds")
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
        help="extra environment for the worker (repeatable)",
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help="run bench/bare_worker.py instead: the same machinery, a handler that only answers",
    )
    parser.add_argument(
        "--py-spy", metavar="PATH", help="profile the worker during the load with this py-spy"
    )
    return parser.parse_args(argv)


# The messages ---------------------------------------------------------------------------------


@dataclass
class Sent:
    """One inbound message: what was published, when, and when its reply was seen."""

    message_id: UUID
    contact: str
    key: bytes
    value: bytes
    queued_behind: int
    """Earlier messages of the same contact in the stream: replies to those come first."""
    sent_at: float = 0.0
    sent_wall: float = 0.0
    seen_at: float | None = None
    relayed_wall: float | None = None
    """When the worker's outbox relay produced the reply (the record's timestamp)."""


def messages(tenant_id: UUID, count: int, bursts: int, burst_size: int, number: str) -> list[Sent]:
    """`count` messages: one per contact, with `bursts` contacts' bursts spread evenly in."""
    burst_starts = {round((i + 0.5) * count / max(1, bursts)) for i in range(bursts)}
    result: list[Sent] = []
    while len(result) < count:
        if len(result) in burst_starts:
            contact = random_number()
            size = min(burst_size, count - len(result))
            result.extend(_message(tenant_id, contact, number, n) for n in range(size))
        else:
            result.append(_message(tenant_id, random_number(), number, 0))
    return result


def _message(tenant_id: UUID, contact: str, number: str, queued_behind: int) -> Sent:
    data = MessageReceivedData(
        message_id=new_event_id(),
        channel="sms",
        provider="twilio",
        provider_message_id="SM" + secrets.token_hex(16),
        from_address=contact,
        to_address=number,
        body=BODY,
        received_at=datetime.now(UTC),
    )
    event = MessageReceived.create(tenant_id, data)
    return Sent(
        message_id=data.message_id,
        contact=contact,
        key=contact_key(tenant_id, contact),
        value=event.model_dump_json().encode(),
        queued_behind=queued_behind,
    )


async def offer(producer: AIOKafkaProducer, batch: list[Sent], rate: float) -> float:
    """Publish each message at its slot (open loop); returns the worst lag behind schedule."""
    started = time.monotonic()
    acks = []
    worst = 0.0
    for index, message in enumerate(batch):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            worst = max(worst, -delay)
        message.sent_at = time.monotonic()
        message.sent_wall = time.time()
        acks.append(
            await producer.send(Topic.MESSAGES_INBOUND.value, message.value, key=message.key)
        )
    await asyncio.gather(*acks)
    return worst


# The replies ----------------------------------------------------------------------------------


@dataclass
class Replies:
    """Reads `messages.outbound` from its end and matches replies to the messages sent."""

    bootstrap: str
    sent: dict[UUID, Sent] = field(default_factory=dict)
    order: dict[str, list[Sent]] = field(default_factory=dict)
    """Per contact, the messages in the order their replies were seen."""
    duplicates: int = 0
    seen: int = 0
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = await topic_tail(
            self.bootstrap, Topic.MESSAGES_OUTBOUND.value, "bench-replies"
        )

    async def run(self) -> None:
        assert self._consumer is not None
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=100, max_records=2000)
                now = time.monotonic()
                for records in batch.values():
                    for record in records:
                        self._reply(json.loads(record.value), now, record.timestamp / 1000)
        finally:
            await self._consumer.stop()

    def _reply(self, event: dict[str, Any], now: float, relayed: float) -> None:
        if event.get("type") != "message.requested":
            return
        reply_to = event["data"].get("in_reply_to")
        message = self.sent.get(UUID(reply_to)) if reply_to else None
        if message is None:
            return
        if message.seen_at is not None:
            self.duplicates += 1
            return
        message.seen_at = now
        message.relayed_wall = relayed
        self.seen += 1
        self.order.setdefault(message.contact, []).append(message)

    async def wait(self, batch: list[Sent], patience: float) -> None:
        """Until every message of `batch` has its reply, or none comes for `patience` s."""
        last, last_progress = -1, time.monotonic()
        while True:
            answered = sum(1 for m in batch if m.seen_at is not None)
            if answered == len(batch):
                return
            if answered != last:
                last, last_progress = answered, time.monotonic()
            elif time.monotonic() - last_progress > patience:
                return
            await asyncio.sleep(0.2)


def order_violations(replies: Replies, batch: list[Sent]) -> int:
    """Replies seen after the reply to a later message of the same contact."""
    position = {m.message_id: index for index, m in enumerate(batch)}
    violations = 0
    for seen in replies.order.values():
        latest = -1
        for message in seen:
            index = position.get(message.message_id, -1)
            if index < latest:
                violations += 1
            latest = max(latest, index)
    return violations


# Sampling the worker --------------------------------------------------------------------------


@dataclass
class WorkerSampler:
    """Every `interval`: records in flight and the outbox backlog (from `/metrics`), RSS, and
    replies outstanding."""

    metrics_url: str
    pid: int
    batch: list[Sent]
    interval: float
    in_flight: list[float] = field(default_factory=list)
    outbox_backlog: list[float] = field(default_factory=list)
    outstanding: list[int] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                await asyncio.sleep(self.interval)
                self.rss_mb.append(_status_mb(self.pid, "VmRSS"))
                self.outstanding.append(
                    sum(1 for m in self.batch if m.sent_at and m.seen_at is None)
                )
                try:
                    text = (await client.get(self.metrics_url)).text
                except httpx.HTTPError:
                    continue
                for line in text.splitlines():
                    if line.startswith(IN_FLIGHT_METRIC):
                        self.in_flight.append(float(line.rsplit(" ", 1)[1]))
                    elif line.startswith(BACKLOG_METRIC):
                        self.outbox_backlog.append(float(line.rsplit(" ", 1)[1]))


def _status_mb(pid: int, field_name: str) -> float:
    """A memory line of /proc/<pid>/status (VmRSS: now, VmHWM: the peak so far), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# The run --------------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    worker: Server
    broker: Broker
    database_url: str
    tenant_id: UUID = field(default_factory=uuid4)
    number: str = field(default_factory=lambda: random_number("+1444"))

    async def run(self) -> dict[str, Any]:
        producer = create_producer(self.broker.bootstrap_servers, client_id="bench-inbound")
        await producer.start()
        replies = Replies(self.broker.bootstrap_servers)
        await replies.start()
        reading = asyncio.create_task(replies.run())
        try:
            await self._warm_up(producer, replies)
            return await self._load(producer, replies)
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            await producer.stop()

    async def _warm_up(self, producer: AIOKafkaProducer, replies: Replies) -> None:
        """A few messages answered first, so the worker has joined its group and warmed up."""
        batch = messages(self.tenant_id, 20, 0, 1, self.number)
        replies.sent.update((m.message_id, m) for m in batch)
        started = time.monotonic()
        await offer(producer, batch, 20.0)
        await replies.wait(batch, patience=120)
        answered = sum(1 for m in batch if m.seen_at is not None)
        if answered < len(batch):
            raise RuntimeError(
                f"only {answered} of {len(batch)} warm-up messages were answered; "
                f"see the worker's log in {self.worker.log_path}"
            )
        print(f"warm-up: answered after {time.monotonic() - started:.1f}s", flush=True)

    async def _load(self, producer: AIOKafkaProducer, replies: Replies) -> dict[str, Any]:
        args = self.args
        count = round(args.rate * args.duration)
        batch = messages(self.tenant_id, count, args.bursts, args.burst_size, self.number)
        replies.sent.update((m.message_id, m) for m in batch)
        busy_before = await asyncio.to_thread(wait_for_quiet, args.quiet, 300.0)
        groups = {"worker": self.worker.pid}
        if self.broker.process is not None:
            groups["broker"] = self.broker.process.pid
        postmaster = await postmaster_pid(self.database_url)
        if postmaster is not None:
            groups["postgres"] = postmaster
        sampler = WorkerSampler(
            f"{self.worker.url}/metrics", self.worker.pid, batch, args.sample_interval
        )
        sampling = asyncio.create_task(sampler.run())
        profiler = self._profile()
        stages_before = await self._stages()
        print(f"offering {args.rate:g} messages/s for {args.duration:g}s...", flush=True)
        before = CpuSample.take(groups, load_generator="self")
        started = time.monotonic()
        schedule_lag = await offer(producer, batch, args.rate)
        offered = time.monotonic() - started
        # The replies to the last messages come a model call later: count that as load too.
        await asyncio.sleep(min(args.latency, args.drain))
        cpu = CpuSample.take(groups, load_generator="self").since(before)
        stages = (await self._stages()).since(stages_before)
        await replies.wait(batch, args.drain)
        sampling.cancel()
        await asyncio.gather(sampling, return_exceptions=True)
        if profiler is not None:
            profiler.wait()
        return {
            "offered": {
                "messages": count,
                "rate": args.rate,
                "achieved_rate": round(count / offered, 1),
                "max_schedule_lag_ms": round(1000 * schedule_lag, 1),
            },
            "replies": self._replies(batch, replies, started, offered),
            "worker": {
                "records_in_flight_peak": max(sampler.in_flight, default=0),
                "records_in_flight_mean": _mean(_steady(sampler.in_flight, args)),
                "outstanding_peak": max(sampler.outstanding, default=0),
                "outbox_backlog_peak": max(sampler.outbox_backlog, default=0),
                "outbox_backlog_mean": _mean(_steady(sampler.outbox_backlog, args)),
                "rss_mb_peak": round(_status_mb(self.worker.pid, "VmHWM"), 1),
                "rss_mb_end_of_load": round(sampler.rss_mb[-1], 1) if sampler.rss_mb else None,
                "samples": len(sampler.in_flight),
            },
            "worker_stages": stages.quantiles(0.5, 0.99),
            "cpu_cores_during_load": cpu,
            "machine_busy_cores_before": busy_before,
        }

    async def _stages(self) -> Histograms:
        """The worker's batch and outbox histograms (its stages, timed inside it)."""
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{self.worker.url}/metrics")).text
        return Histograms.scrape(text, STAGE_HISTOGRAMS)

    def _replies(
        self, batch: list[Sent], replies: Replies, started: float, offered: float
    ) -> dict[str, Any]:
        latency = self.args.latency
        answered = [(m, m.seen_at) for m in batch if m.seen_at is not None]
        # The load window shifted by one model call: replies to the messages offered in it.
        end = started + offered + latency
        in_window = sum(1 for _, seen in answered if started + latency <= seen <= end)
        per_second = Counter(int(seen - started) for _, seen in answered)
        steady = [per_second[s] for s in range(int(latency) + 3, int(offered + latency) - 2)]
        # A burst's later messages wait for the replies before them (in order, on purpose):
        # the latency Switchboard adds is measured on contacts' first messages.
        first = [(m, seen) for m, seen in answered if m.queued_behind == 0]
        added = [seen - m.sent_at - latency for m, seen in first]
        late_half = [
            seen - m.sent_at - latency for m, seen in first if m.sent_at >= started + offered / 2
        ]
        to_relay = [
            m.relayed_wall - m.sent_wall - latency for m, _ in first if m.relayed_wall is not None
        ]
        return {
            "answered": len(answered),
            "unanswered": len(batch) - len(answered),
            "duplicates": replies.duplicates,
            "rate_in_load_window": round(in_window / offered, 1),
            "per_second_min_median_max": [
                min(steady, default=0),
                percentile(steady, 50) if steady else 0,
                max(steady, default=0),
            ],
            "order_violations": order_violations(replies, batch),
            "contacts_with_bursts": len({m.contact for m in batch if m.queued_behind > 0}),
            "added_latency_ms": _latency(added),
            "added_latency_p99_second_half_ms": _latency(late_half)["p99"],
            "until_relayed_ms": _latency(to_relay),
            "burst_messages_total_latency_ms": _latency(
                [seen - m.sent_at for m, seen in answered if m.queued_behind > 0]
            ),
        }

    def _profile(self) -> subprocess.Popen[bytes] | None:
        if not self.args.py_spy:
            return None
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        output = RESULTS_DIR / f"profile-conversation-{self.worker.pid}.txt"
        command = [
            self.args.py_spy, "record", "--pid", str(self.worker.pid), "--nonblocking",
            "--duration", str(round(self.args.duration)), "--rate", "100", "--format", "raw",
            "--output", str(output),
        ]  # fmt: skip
        print(f"profiling into {output}", flush=True)
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _steady(samples: list[float], args: argparse.Namespace) -> list[float]:
    """Samples taken while the load ran, leaving out the first model call's ramp."""
    per_second = 1 / args.sample_interval
    return samples[round((args.latency + 1) * per_second) : round(args.duration * per_second)]


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 1) if values else 0.0


def _latency(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {
        "p50": round(1000 * percentile(values, 50), 1),
        "p90": round(1000 * percentile(values, 90), 1),
        "p99": round(1000 * percentile(values, 99), 1),
        "max": round(1000 * max(values), 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    log_dir = RESULTS_DIR / f"conversation-logs-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    with postgres_server(args.database_url, embedded=args.database_url is None) as server_url:
        database = BenchDatabase(server_url, keep=args.keep_database)
        database.create()
        broker = Broker(log_path=log_dir / "tansu.log").start()
        worker: Server | None = None
        try:
            asyncio.run(ensure_topics(broker.bootstrap_servers))
            migrate("switchboard.conversation:migrations", database.url)
            facts = postgres_facts(database.url)
            port = free_port()
            env = base_env(database.url, broker.bootstrap_servers)
            env.update(
                {
                    "PYTHONUNBUFFERED": "1",
                    "SWITCHBOARD_CONVERSATION_WORKER_PORT": str(port),
                    "SWITCHBOARD_CONVERSATION_LLM_CHAIN": json.dumps(
                        [{"provider": "offline", "latency_seconds": args.latency}]
                    ),
                }
            )
            env.update(item.split("=", 1) for item in args.worker_env)
            command = (
                [sys.executable, str(BENCH_DIR / "bare_worker.py")]
                if args.bare
                else [sys.executable, "-m", "switchboard.conversation", "worker"]
            )
            worker = Server(
                "conversation-worker",
                command,
                env,
                f"http://127.0.0.1:{port}",
                log_path=log_dir / "conversation-worker.log",
            ).start(timeout=120)
            bench = Bench(args, worker, broker, database.url)
            measured = uvloop.run(bench.run())
            return {
                "benchmark": "conversation",
                "settings": {k: v for k, v in vars(args).items() if k != "database_url"},
                "machine": machine_facts(),
                "postgres": {"database": database.name, **facts},
                "logs": str(log_dir),
                **measured,
            }
        finally:
            if worker is not None:
                worker.stop()
            broker.stop()
            database.drop()


def report(result: dict[str, Any]) -> None:
    offered, replies, worker = result["offered"], result["replies"], result["worker"]
    added = replies["added_latency_ms"]
    print()
    print_table(
        [
            "offered/s",
            "replies/s",
            "per s min/med/max",
            "in flight peak/mean",
            "RSS peak MB",
            "added p50 ms",
            "added p99 ms",
            "order violations",
            "unanswered",
        ],
        [
            [
                f"{offered['rate']:g}",
                replies["rate_in_load_window"],
                "/".join(str(v) for v in replies["per_second_min_median_max"]),
                f"{worker['records_in_flight_peak']:g}/{worker['records_in_flight_mean']:g}",
                worker["rss_mb_peak"],
                added["p50"],
                added["p99"],
                replies["order_violations"],
                replies["unanswered"],
            ]
        ],
    )
    cpu = result["cpu_cores_during_load"]
    print(
        "  cores: "
        + ", ".join(f"{k} {v}" for k, v in cpu.items() if k != "machine_busy")
        + f" (machine {cpu['machine_busy']} of {os.cpu_count()})"
    )
    print(
        f"  added latency p90 {added['p90']} ms, max {added['max']} ms, p99 of the second half "
        f"{replies['added_latency_p99_second_half_ms']} ms; burst messages total latency "
        f"p50/p99 {replies['burst_messages_total_latency_ms']['p50']}/"
        f"{replies['burst_messages_total_latency_ms']['p99']} ms; until relayed p50/p99 "
        f"{replies['until_relayed_ms']['p50']}/{replies['until_relayed_ms']['p99']} ms; duplicates "
        f"{replies['duplicates']}; schedule lag max {offered['max_schedule_lag_ms']} ms"
    )
    for series, row in result.get("worker_stages", {}).items():
        scale = 1 if series.startswith("batch_items") else 1000
        values = "/".join(f"{(v or 0) * scale:.1f}" for k, v in row.items() if k != "count")
        print(f"  {series}: p50/p99 {values}{'' if scale == 1 else ' ms'} ({row['count']:g})")


if __name__ == "__main__":
    benchkit.main("conversation", parse_args, run, report)
