"""Shared plumbing for the benchmarks: databases, processes, signed webhooks, results."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlencode

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from switchboard.common.db import async_url, asyncpg_dsn
from switchboard.devstack.infra import EmbeddedPostgres, stop_process

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
WEBHOOK_PATH = "/v1/webhooks/twilio/messages"
ACCOUNT_SID = "AC" + "0" * 32
LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
MESSAGE_BODY = "Hi! Is my order #4412 on its way?"


def require_wrk() -> str:
    """The path of `wrk`, or exit with how to install it."""
    path = shutil.which("wrk")
    if path is None:
        sys.exit(
            "wrk is not installed. It is the load generator of this benchmark; install it with\n"
            "    apt-get update && apt-get install -y wrk"
        )
    return path


def random_number(prefix: str = "+1555") -> str:
    return prefix + "".join(secrets.choice("0123456789") for _ in range(7))


# Databases ------------------------------------------------------------------------------------


@dataclass
class BenchDatabase:
    """A fresh `sb_bench_<random>` database on a PostgreSQL server, dropped afterwards."""

    server_url: str
    name: str = field(default_factory=lambda: f"sb_bench_{secrets.token_hex(4)}")
    keep: bool = False

    @property
    def url(self) -> str:
        return (
            make_url(async_url(self.server_url))
            .set(database=self.name)
            .render_as_string(hide_password=False)
        )

    def create(self) -> None:
        asyncio.run(_admin_execute(self.server_url, f'CREATE DATABASE "{self.name}"'))

    def drop(self) -> None:
        if not self.keep:
            asyncio.run(
                _admin_execute(
                    self.server_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'
                )
            )


async def _admin_execute(server_url: str, statement: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def postgres_server(url: str | None, embedded: bool) -> Iterator[str]:
    """The maintenance URL of the server to use: the given one, or an embedded PostgreSQL."""
    if not embedded:
        yield url or LOCAL_POSTGRES
        return
    data_dir = Path(f"/tmp/sbbench-{os.getpid()}")  # short: the unix socket lives there
    server = EmbeddedPostgres(data_dir).start()
    try:
        yield server.url()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def fetch_value(database_url: str, query: str, *args: object) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def fetch_rows(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def postgres_facts(database_url: str) -> dict[str, str]:
    """Server version and the settings that decide commit latency."""
    rows = asyncio.run(
        fetch_rows(
            database_url,
            "select name, setting from pg_settings where name = any($1::text[])",
            [
                "server_version",
                "synchronous_commit",
                "fsync",
                "shared_buffers",
                "max_connections",
                "autovacuum",
            ],
        )
    )
    facts = {row["name"]: row["setting"] for row in rows}
    if facts.get("autovacuum") == "off":
        print(
            "warning: autovacuum is off on this PostgreSQL: tables are never analyzed, so query "
            "plans stay those of empty tables",
            flush=True,
        )
    return facts


async def postmaster_pid(database_url: str) -> int | None:
    """The PostgreSQL server's root process, if it runs on this machine.

    Connections come and go (SQLAlchemy closes overflow connections on return), so CPU is
    counted for the whole server: a backend that exited is in its parent's reaped time.
    """
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:  # the backend only lives as long as this connection
        return parent_pid(int(await conn.fetchval("select pg_backend_pid()")))
    finally:
        await conn.close()


def parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


async def sessions_opened(database_url: str) -> int:
    """Connections ever opened to this database (PostgreSQL 14+), to see connection churn."""
    query = "select sessions from pg_stat_database where datname = current_database()"
    return int(await fetch_value(database_url, query) or 0)


# CPU accounting: where the cores went during a run --------------------------------------------


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (uvicorn's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime + stime, plus cutime + cstime: children that exited and were reaped.
        total += sum(int(f) for f in fields[11:15]) / ticks
    return total


def _machine_busy() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine since boot."""
    fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


@dataclass
class CpuSample:
    """CPU seconds per named group of processes, for the load generator, and machine-wide."""

    groups: dict[str, float]
    load_generator: float
    busy: float
    total: float
    wall: float

    @classmethod
    def take(
        cls, roots: dict[str, int], load_generator: Literal["children", "self"] = "children"
    ) -> CpuSample:
        """CPU of each named process tree; `load_generator`: a waited-for child, or this process."""
        who = resource.RUSAGE_CHILDREN if load_generator == "children" else resource.RUSAGE_SELF
        usage = resource.getrusage(who)
        busy, total = _machine_busy()
        return cls(
            groups={name: _cpu_seconds(process_tree(pid)) for name, pid in roots.items()},
            load_generator=usage.ru_utime + usage.ru_stime,
            busy=busy,
            total=total,
            wall=time.monotonic(),
        )

    def since(self, before: CpuSample) -> dict[str, float]:
        """Cores used per group; `others` is what the rest of the machine took meanwhile."""
        wall = self.wall - before.wall
        cores = {name: (self.groups[name] - before.groups[name]) / wall for name in self.groups}
        cores["load_generator"] = (self.load_generator - before.load_generator) / wall
        busy = (self.busy - before.busy) / wall
        cores["others"] = max(0.0, busy - sum(cores.values()))
        cores["machine_busy"] = busy
        return {name: round(value, 2) for name, value in cores.items()}


def wait_for_quiet(max_busy_cores: float | None, timeout: float) -> float:
    """On a shared machine, wait until the rest of it uses at most `max_busy_cores`.

    Returns the busy cores seen last (sampled over 2 s); gives up after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        busy_before, _ = _machine_busy()
        time.sleep(2.0)
        busy = (_machine_busy()[0] - busy_before) / 2.0
        if max_busy_cores is None or busy <= max_busy_cores or time.monotonic() > deadline:
            return round(busy, 2)
        print(f"  machine busy ({busy:.2f} cores); waiting for it to quieten...", flush=True)
        time.sleep(8.0)


# Environment and processes --------------------------------------------------------------------


def base_env(database_url: str, kafka_bootstrap: str | None = None) -> dict[str, str]:
    """What every service reads, like the test suite's `platform_env`."""
    env = dict(os.environ)
    env.update(
        {
            "SWITCHBOARD_DATABASE_URL": database_url,
            "SWITCHBOARD_ADMIN_KEY": "sb_admin_bench_" + secrets.token_hex(12),
            "SWITCHBOARD_LOG_LEVEL": "WARNING",
            "SWITCHBOARD_GATEWAY_CREDENTIALS_KEY": Fernet.generate_key().decode(),
        }
    )
    if kafka_bootstrap is not None:
        env["SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    return env


@dataclass
class Server:
    """One server process started by the benchmark (and stopped by it, by PID)."""

    name: str
    command: Sequence[str]
    env: dict[str, str]
    url: str
    ready_path: str = "/readyz"
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Server:
        log: IO[bytes] | int = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("ab")
        self.process = subprocess.Popen(list(self.command), env=self.env, stdout=log, stderr=log)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} not ready after {timeout}s")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=15.0)
            self.process = None


# Tenants, numbers and signed webhooks ---------------------------------------------------------


@dataclass(frozen=True)
class Provisioned:
    tenant_id: str
    api_key: str
    number: str
    auth_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def provision(gateway_url: str, admin_key: str) -> Provisioned:
    """A fresh tenant (with the admin key) and a Twilio number with its auth token."""
    admin = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=gateway_url, timeout=10.0) as client:
        created = client.post("/v1/tenants", json={"name": "bench"}, headers=admin)
        created.raise_for_status()
        tenant = created.json()
        api_key = tenant["api_key"]["api_key"]
        token = secrets.token_hex(16)
        number = random_number("+1444")
        registered = client.post(
            "/v1/numbers",
            json={"address": number, "twilio": {"account_sid": ACCOUNT_SID, "auth_token": token}},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        registered.raise_for_status()
    return Provisioned(tenant["id"], api_key, number, token)


@dataclass(frozen=True)
class SignedWebhook:
    signature: str
    body: str


class WebhookFactory:
    """Unique, correctly signed Twilio inbound-message webhooks for one number."""

    def __init__(self, public_url: str, number: str, auth_token: str, contacts: int) -> None:
        self.url = public_url.rstrip("/") + WEBHOOK_PATH
        self.number = number
        self.validator = RequestValidator(auth_token)
        self.contacts = [random_number() for _ in range(contacts)]
        self.run_id = secrets.token_hex(4)

    def sid(self, index: int) -> str:
        return f"SM{self.run_id}{index:024x}"

    def make(self, index: int) -> SignedWebhook:
        form = {
            "MessageSid": self.sid(index),
            "AccountSid": ACCOUNT_SID,
            "From": self.contacts[index % len(self.contacts)],
            "To": self.number,
            "Body": MESSAGE_BODY,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        signature = self.validator.compute_signature(self.url, form)
        return SignedWebhook(signature, urlencode(form))

    def write(self, path: Path, count: int) -> Path:
        """One request per line, `<signature>\\t<form body>`, for the wrk script."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            for index in range(count):
                webhook = self.make(index)
                out.write(f"{webhook.signature}\t{webhook.body}\n")
        return path


# Results --------------------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def save_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def main(
    name: str,
    parse_args: Callable[[], argparse.Namespace],
    run: Callable[[argparse.Namespace], dict[str, Any]],
    report: Callable[[dict[str, Any]], None],
) -> None:
    """A benchmark's command line: run it, print its report, keep its results."""
    result = run(parse_args())
    report(result)
    print(f"\nresults: {save_result(name, result)}")


@dataclass
class Histograms:
    """Prometheus histograms scraped from a `/metrics` page: cumulative bucket counts by series
    (`name{labels}`); the difference of two scrapes is what happened in between."""

    buckets: dict[str, dict[float, float]] = field(default_factory=dict)

    @classmethod
    def scrape(cls, text: str, names: Sequence[str]) -> Histograms:
        result = cls()
        for family in text_string_to_metric_families(text):
            if family.name not in names:
                continue
            for sample in family.samples:
                if not sample.name.endswith("_bucket"):
                    continue
                labels = {k: v for k, v in sample.labels.items() if k != "le"}
                series = family.name + "".join(f" {v}" for v in labels.values())
                bound = float(sample.labels["le"])
                result.buckets.setdefault(series, {})[bound] = sample.value
        return result

    def since(self, before: Histograms) -> Histograms:
        return Histograms(
            {
                series: {
                    le: n - before.buckets.get(series, {}).get(le, 0) for le, n in counts.items()
                }
                for series, counts in self.buckets.items()
            }
        )

    def quantiles(self, *qs: float) -> dict[str, dict[str, float | None]]:
        """Per series: its count and each quantile, interpolated within its bucket (in ms for
        seconds histograms: the caller knows which)."""
        result: dict[str, dict[str, float | None]] = {}
        for series, counts in self.buckets.items():
            bounds = sorted(counts)
            total = counts[bounds[-1]] if bounds else 0
            if not total:
                continue
            row: dict[str, float | None] = {"count": total}
            for q in qs:
                rank, lower, below = q * total, 0.0, 0.0
                row[f"p{q * 100:g}"] = None
                for bound in bounds:
                    if counts[bound] >= rank:
                        if bound == float("inf"):
                            row[f"p{q * 100:g}"] = lower
                        else:
                            inside = (rank - below) / max(counts[bound] - below, 1e-9)
                            row[f"p{q * 100:g}"] = round(lower + (bound - lower) * inside, 4)
                        break
                    lower, below = bound, counts[bound]
            result[series] = row
        return result


async def topic_tail(
    bootstrap: str, topic: str, client_id: str, fetch_max_wait_ms: int = 10
) -> AIOKafkaConsumer:
    """A started consumer of every partition of `topic`, from its end (no group)."""
    # The broker holds an empty fetch for fetch_max_wait: short, so records are seen promptly
    # (each empty fetch costs the broker a little CPU).
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, client_id=client_id, fetch_max_wait_ms=fetch_max_wait_ms
    )
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    return consumer


@dataclass
class GroupLag:
    """A consumer group's lag on some topics: the partitions' end offsets minus the group's
    committed offsets (a partition the group never committed counts from its start)."""

    bootstrap: str
    group: str
    topics: Sequence[str]
    _admin: AIOKafkaAdminClient | None = None
    _ends: AIOKafkaConsumer | None = None
    _partitions: list[TopicPartition] = field(default_factory=list)

    async def start(self) -> GroupLag:
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, client_id=f"bench-lag-{self.group}"
        )
        await self._admin.start()
        self._ends = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, client_id=f"bench-ends-{self.group}"
        )
        await self._ends.start()
        for topic in self.topics:
            partitions = self._ends.partitions_for_topic(topic) or set()
            self._partitions += [TopicPartition(topic, p) for p in sorted(partitions)]
        return self

    async def lag(self) -> int:
        """Records on these topics the group has not committed yet."""
        assert self._admin is not None
        assert self._ends is not None
        ends = await self._ends.end_offsets(self._partitions)
        committed = await self._admin.list_consumer_group_offsets(
            self.group, partitions=self._partitions
        )
        total = 0
        for tp in self._partitions:
            done = committed.get(tp)
            offset = done.offset if done is not None and done.offset >= 0 else 0
            total += max(0, ends[tp] - offset)
        return total

    async def stop(self) -> None:
        if self._admin is not None:
            await self._admin.close()
        if self._ends is not None:
            await self._ends.stop()


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of unsorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
