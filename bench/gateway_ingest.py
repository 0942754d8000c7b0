"""Benchmark: the gateway's ingest of signed Twilio webhooks, durable before the 2xx.

Compares, under the same uvicorn setup and the same wrk load, a bare FastAPI endpoint that
answers a constant (bench/bare_app.py) with the real `POST /v1/webhooks/twilio/messages`
(signature check, sender lookup, receipt + outbox event committed to PostgreSQL before 200).
Then checks that every 200 left a row in `gateway.inbound_messages`.

    uv run python bench/gateway_ingest.py [--workers 1 2] [--duration 20] [--connections 64]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import benchkit
from benchkit import (
    BENCH_DIR,
    RESULTS_DIR,
    WEBHOOK_PATH,
    BenchDatabase,
    CpuSample,
    Server,
    WebhookFactory,
    base_env,
    fetch_value,
    machine_facts,
    postgres_facts,
    postgres_server,
    postmaster_pid,
    print_table,
    provision,
    require_wrk,
    sessions_opened,
    wait_for_quiet,
)

from switchboard.common.kafka import ensure_topics
from switchboard.common.migrations import migrate
from switchboard.devstack.infra import Broker, free_port

LUA_SCRIPT = BENCH_DIR / "webhooks.lua"
P99_TARGET_MS = 30.0
RATIO_TARGET = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="uvicorn workers")
    parser.add_argument("--duration", type=int, default=20, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds before each run")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to CPU 0 and wrk to CPU 1 (taskset), so they never share a core",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per target; the median by req/s is compared"
    )
    parser.add_argument("--requests", type=int, default=200_000, help="unique signed webhooks")
    parser.add_argument("--contacts", type=int, default=10_000, help="distinct senders (From)")
    parser.add_argument(
        "--only", choices=["bare", "gateway"], help="run one side only (default: both)"
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=None,
        metavar="CORES",
        help="before each run, wait (up to --quiet-timeout s) until other processes use <= CORES",
    )
    parser.add_argument("--quiet-timeout", type=float, default=300.0)
    parser.add_argument(
        "--database-url",
        default=None,
        help="maintenance URL of a PostgreSQL server (default: postgres@127.0.0.1:5432)",
    )
    parser.add_argument(
        "--embedded-postgres", action="store_true", help="use an embedded PostgreSQL (pgserver)"
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop sb_bench_*")
    parser.add_argument(
        "--gateway-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the gateway (repeatable), e.g. OTEL_SDK_DISABLED=true",
    )
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        help="profile the gateway during its measured run with this py-spy binary",
    )
    parser.add_argument(
        "--with-relay",
        action="store_true",
        help="also run a broker and the gateway worker, relaying the outbox during the load",
    )
    return parser.parse_args(argv)


@dataclass
class WrkRun:
    """One wrk invocation's outcome, as printed by webhooks.lua."""

    raw: dict[str, Any]

    @property
    def seconds(self) -> float:
        return float(self.raw["duration_us"]) / 1e6

    @property
    def responses(self) -> int:
        return int(self.raw["requests"])

    @property
    def ok(self) -> int:
        """2xx/3xx responses (the endpoints answer only 200 when all is well)."""
        return self.responses - int(self.raw["errors"]["status"])

    @property
    def rps(self) -> float:
        return self.responses / self.seconds

    def latency_ms(self, name: str) -> float:
        return float(self.raw["latency_us"][name]) / 1000

    @property
    def socket_errors(self) -> int:
        errors = self.raw["errors"]
        return sum(int(errors[k]) for k in ("connect", "read", "write", "timeout"))

    def summary(self) -> dict[str, Any]:
        return {
            "requests_per_second": round(self.rps, 1),
            "responses": self.responses,
            "ok_responses": self.ok,
            "non_2xx": int(self.raw["errors"]["status"]),
            "socket_errors": self.socket_errors,
            "latency_ms": {k: self.latency_ms(k) for k in ("p50", "p90", "p99", "p999", "max")},
            "wrk": self.raw,
        }


def run_wrk(
    wrk: str, url: str, requests_file: Path, start: int, seconds: int, args: argparse.Namespace
) -> WrkRun:
    command = [
        *(["taskset", "-c", "1"] if args.pin else []),
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
        url + WEBHOOK_PATH,
        "--",
        str(requests_file),
        str(start),
        str(args.threads),
        WEBHOOK_PATH,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 300, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            return WrkRun(json.loads(line.removeprefix("WRK_RESULT ")))
    raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")


# The two targets ------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    wrk: str
    database_url: str
    env: dict[str, str]
    gateway_port: int
    requests_file: Path | None = None

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def gateway(self, workers: int) -> Server:
        env = dict(self.env)
        env.update(
            {
                "SWITCHBOARD_GATEWAY_HTTP_HOST": "127.0.0.1",
                "SWITCHBOARD_GATEWAY_HTTP_PORT": str(self.gateway_port),
                "SWITCHBOARD_GATEWAY_HTTP_WORKERS": str(workers),
                "SWITCHBOARD_GATEWAY_PUBLIC_URL": self.gateway_url,
            }
        )
        env.update(item.split("=", 1) for item in self.args.gateway_env)
        command = [*self._pinned(), sys.executable, "-m", "switchboard.gateway", "http"]
        return Server(f"gateway-http-w{workers}", command, env, self.gateway_url)

    def bare(self, workers: int) -> Server:
        port = free_port()
        command = [
            *self._pinned(),
            sys.executable,
            str(BENCH_DIR / "bare_app.py"),
            str(port),
            str(workers),
        ]
        return Server(f"bare-w{workers}", command, dict(os.environ), f"http://127.0.0.1:{port}")

    def prepare_requests(self) -> Path:
        """Provision a tenant and number on a running gateway, then sign the webhooks."""
        if self.requests_file is None:
            server = self.gateway(1).start()
            try:
                account = provision(self.gateway_url, self.env["SWITCHBOARD_ADMIN_KEY"])
            finally:
                server.stop()
            factory = WebhookFactory(
                self.gateway_url, account.number, account.auth_token, self.args.contacts
            )
            started = time.monotonic()
            path = RESULTS_DIR / f"webhooks-{os.getpid()}.txt"
            self.requests_file = factory.write(path, self.args.requests)
            print(
                f"signed {self.args.requests} webhooks in {time.monotonic() - started:.1f}s",
                flush=True,
            )
        return self.requests_file

    def measure(self, kind: str, workers: int) -> dict[str, Any]:
        requests_file = self.prepare_requests()
        idle_before = wait_for_quiet(self.args.quiet, self.args.quiet_timeout)
        server = self.gateway(workers) if kind == "gateway" else self.bare(workers)
        server.start()
        try:
            if kind == "gateway":
                self._forget_messages()
            warm = run_wrk(self.wrk, server.url, requests_file, 0, self.args.warmup, self.args)
            start = warm.raw["last_index"] + 1 if kind == "gateway" else 0
            profiler = self._profiler(kind, workers, server.pid)
            groups = self._cpu_groups(server.pid)
            sessions = asyncio.run(sessions_opened(self.database_url))
            before = CpuSample.take(groups)
            run = run_wrk(self.wrk, server.url, requests_file, start, self.args.duration, self.args)
            cpu = CpuSample.take(groups).since(before)
            sessions = asyncio.run(sessions_opened(self.database_url)) - sessions
            if profiler is not None:
                profiler.wait(timeout=60)
        finally:
            server.stop()
        result = {
            "target": kind,
            "workers": workers,
            **run.summary(),
            "cpu": cpu,
            "machine_busy_cores_before": idle_before,
            "postgres_sessions_opened": sessions if kind == "gateway" else 0,
            "load_average_after": os.getloadavg(),
        }
        if kind == "gateway":
            result["durability"] = self._durability(warm, run)
        return result

    def _cpu_groups(self, server_pid: int) -> dict[str, int]:
        roots = {"app": server_pid}
        postmaster = asyncio.run(postmaster_pid(self.database_url))
        if postmaster is not None:
            roots["postgres"] = postmaster
        return roots

    def _pinned(self) -> list[str]:
        return ["taskset", "-c", "0"] if self.args.pin else []

    def _profiler(self, kind: str, workers: int, pid: int) -> subprocess.Popen[bytes] | None:
        """py-spy sampling the server (all its workers) for the measured run, if asked."""
        if not self.args.py_spy or kind != "gateway":
            return None
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        output = RESULTS_DIR / f"profile-{kind}-w{workers}-{os.getpid()}.txt"
        command = [
            self.args.py_spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
            "--duration", str(self.args.duration), "--rate", "250", "--format", "raw",
            "--output", str(output),
        ]  # fmt: skip
        print(f"profiling into {output}", flush=True)
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _forget_messages(self) -> None:
        """Every run starts from an empty inbox, so it can send the signed file from its start."""
        query = "truncate gateway.inbound_messages, gateway.outbox"
        asyncio.run(fetch_value(self.database_url, query))

    def _inbound_rows(self) -> int:
        query = "select count(*) from gateway.inbound_messages"
        return int(asyncio.run(fetch_value(self.database_url, query)))

    def _durability(self, warm: WrkRun, run: WrkRun) -> dict[str, Any]:
        """Every 200 must have left a row; requests cut off by wrk's stop may have too."""
        rows = self._inbound_rows()
        ok = warm.ok + run.ok
        sent = int(warm.raw["sent"]) + int(run.raw["sent"])
        wrapped = bool(warm.raw["wrapped"] or run.raw["wrapped"])
        outbox = int(
            asyncio.run(fetch_value(self.database_url, "select count(*) from gateway.outbox"))
        )
        return {
            "ok_responses": ok,
            "inbound_rows": rows,
            "requests_sent": sent,
            "unanswered_at_stop": sent - warm.responses - run.responses,
            "outbox_rows_total": outbox,
            # Without a relay nothing leaves the outbox: one event per receipt, same transaction.
            "outbox_matches_inbound": None if self.args.with_relay else outbox == rows,
            "file_wrapped": wrapped,
            "every_200_durable": (not wrapped) and ok <= rows <= sent,
        }


def run(args: argparse.Namespace) -> dict[str, Any]:
    wrk = require_wrk()
    with postgres_server(args.database_url, args.embedded_postgres) as server_url:
        database = BenchDatabase(server_url, keep=args.keep_database)
        database.create()
        broker: Broker | None = None
        relay: Server | None = None
        bench: Bench | None = None
        try:
            migrate("switchboard.gateway:migrations", database.url)
            facts = postgres_facts(database.url)
            if args.with_relay:
                broker = Broker().start()
                asyncio.run(ensure_topics(broker.bootstrap_servers))
            env = _env(database.url, broker)
            bench = Bench(args, wrk, database.url, env, free_port())
            if broker is not None:
                relay = _start_relay(env).start()
            results = []
            kinds = [args.only] if args.only else ["bare", "gateway"]
            for workers in args.workers:
                for attempt in range(1, args.repeat + 1):
                    for kind in kinds:
                        print(f"measuring {kind}, {workers} worker(s), run {attempt}", flush=True)
                        results.append(bench.measure(kind, workers))
            return {
                "benchmark": "gateway_ingest",
                "settings": {k: v for k, v in vars(args).items() if k != "database_url"},
                "machine": machine_facts(),
                "postgres": {"database": database.name, **facts},
                "runs": results,
                "comparisons": _compare(results),
            }
        finally:
            if relay is not None:
                relay.stop()
            if broker is not None:
                broker.stop()
            if bench is not None and bench.requests_file is not None:
                bench.requests_file.unlink(missing_ok=True)
            database.drop()


def _env(database_url: str, broker: Broker | None) -> dict[str, str]:
    return base_env(database_url, broker.bootstrap_servers if broker else None)


def _start_relay(env: dict[str, str]) -> Server:
    port = free_port()
    relay_env = {**env, "SWITCHBOARD_GATEWAY_WORKER_PORT": str(port)}
    command = [sys.executable, "-m", "switchboard.gateway", "worker"]
    return Server("gateway-worker", command, relay_env, f"http://127.0.0.1:{port}")


def _compare(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    comparisons = []
    for workers in sorted({r["workers"] for r in results}):
        bare, gateway = (
            _median([r for r in results if r["workers"] == workers and r["target"] == kind])
            for kind in ("bare", "gateway")
        )
        if bare is None or gateway is None:
            continue
        ratio = gateway["requests_per_second"] / bare["requests_per_second"]
        comparisons.append(
            {
                "workers": workers,
                "ratio": round(ratio, 3),
                "ratio_target_met": ratio >= RATIO_TARGET,
                "gateway_p99_ms": gateway["latency_ms"]["p99"],
                "p99_target_met": gateway["latency_ms"]["p99"] < P99_TARGET_MS,
            }
        )
    return comparisons


def _median(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The run with the median request rate (the lower middle one for an even count)."""
    if not runs:
        return None
    ordered = sorted(runs, key=lambda r: float(r["requests_per_second"]))
    return ordered[(len(ordered) - 1) // 2]


def report(result: dict[str, Any]) -> None:
    rows = []
    for r in result["runs"]:
        latency = r["latency_ms"]
        rows.append(
            [
                r["target"],
                r["workers"],
                f"{r['requests_per_second']:.0f}",
                f"{latency['p50']:.2f}",
                f"{latency['p99']:.2f}",
                r["non_2xx"] + r["socket_errors"],
                r["cpu"]["app"],
                r["cpu"].get("postgres", "?"),
                r["cpu"]["load_generator"],
                r["cpu"]["others"],
                r["postgres_sessions_opened"],
            ]
        )
    print()
    headers = [
        "target",
        "workers",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "app cores",
        "pg cores",
        "wrk cores",
        "other cores",
        "pg conns opened",
    ]
    print_table(headers, rows)
    print()
    for c in result["comparisons"]:
        print(
            f"workers={c['workers']}: gateway/bare = {c['ratio']:.2f}x "
            f"(target >= {RATIO_TARGET}x: {'met' if c['ratio_target_met'] else 'MISSED'}); "
            f"gateway p99 = {c['gateway_p99_ms']:.1f} ms "
            f"(target < {P99_TARGET_MS:.0f} ms: {'met' if c['p99_target_met'] else 'MISSED'})"
        )
    for r in result["runs"]:
        if "durability" in r:
            d = r["durability"]
            verdict = "OK" if d["every_200_durable"] else "FAILED"
            if d["file_wrapped"]:
                verdict = "UNKNOWN: requests were repeated, raise --requests"
            print(
                f"durability workers={r['workers']}: {d['ok_responses']} x 200, "
                f"{d['inbound_rows']} inbound rows, {d['requests_sent']} sent, "
                f"{d['unanswered_at_stop']} cut off by wrk's stop -> {verdict}"
            )


if __name__ == "__main__":
    benchkit.main("gateway_ingest", parse_args, run, report)
