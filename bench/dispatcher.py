"""Benchmark: the gateway dispatcher's sends per second to a local fake Twilio.

    uv run python bench/dispatcher.py --messages 20000

A fresh database gets a tenant, a Twilio number and N queued messages; the gateway worker's own
dispatcher (`worker.dispatcher_for`: the Twilio transport over HTTP, the compliance gates and the
WhatsApp window) sends them to a fake Twilio served by its own process. Reported: the sends per
second from the first claim until every message is `sent`, and the CPU used by the dispatcher,
the fake and PostgreSQL. Status callbacks are off: this measures the send path only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

import uvloop
from benchkit import (
    ACCOUNT_SID,
    BenchDatabase,
    CpuSample,
    Server,
    base_env,
    fetch_rows,
    fetch_value,
    machine_facts,
    postgres_facts,
    postgres_server,
    postmaster_pid,
    print_table,
    provision,
    save_result,
    wait_for_quiet,
)

from switchboard.common.db import Database
from switchboard.common.migrations import migrate
from switchboard.devstack.infra import free_port
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.worker import dispatcher_for

_SEED = """
INSERT INTO gateway.outbound_messages (
    id, tenant_id, idempotency_key, origin, priority, channel, to_address, from_address,
    sender_number_id, body, status, provider, attempts
)
SELECT gen_random_uuid(), n.tenant_id, 'bench-' || n.address || '-' || i, 'campaign', 1, 'sms',
       '+1555' || lpad(i::text, 7, '0'), n.address, n.id, 'Your order has shipped.', 'queued',
       'twilio', 0
FROM generate_series(1, $1) AS i, gateway.sender_numbers n
"""
_PENDING = "SELECT count(*) FROM gateway.outbound_messages WHERE status IN ('queued', 'sending')"
# More numbers like the provisioned one (same account), each with the rate under test.
_MORE_SENDERS = """
INSERT INTO gateway.sender_numbers (
    id, tenant_id, channel, address, provider, account_sid, credentials, number_type
)
SELECT gen_random_uuid(), n.tenant_id, n.channel, '+1333' || lpad(i::text, 7, '0'), n.provider,
       n.account_sid, n.credentials, n.number_type
FROM generate_series(1, $1) AS i, gateway.sender_numbers n
"""
# Each number's observed rate: its sends over the time between its first and last one.
_RATES = """
SELECT m.sender_number_id, count(*) AS sent,
       extract(epoch FROM max(h.recorded_at) - min(h.recorded_at)) AS seconds
FROM gateway.message_status_history h
JOIN gateway.outbound_messages m ON m.id = h.message_id
WHERE h.status = 'sent'
GROUP BY m.sender_number_id
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--messages", type=int, default=20_000, help="queued messages to send, per number"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="messages per second per number: pacing on (default: off, as fast as possible)",
    )
    parser.add_argument("--senders", type=int, default=1, help="numbers sending at once")
    parser.add_argument("--quiet", type=float, default=None, metavar="CORES")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--embedded-postgres", action="store_true")
    return parser.parse_args(argv)


async def dispatch(env: dict[str, str], fake_url: str, paced: bool) -> float:
    """Send everything queued with the worker's own dispatcher (its transports and gates);
    returns the seconds from the start until no message is queued or sending."""
    os.environ.update(env)
    os.environ["SWITCHBOARD_GATEWAY_DEFAULT_TRANSPORT"] = "provider"
    os.environ["SWITCHBOARD_GATEWAY_TWILIO_API_URL"] = fake_url
    os.environ["SWITCHBOARD_GATEWAY_PUBLIC_URL"] = "http://127.0.0.1:9"  # callbacks are off
    os.environ["SWITCHBOARD_GATEWAY_PACING"] = "true" if paced else "false"
    db = Database(env["SWITCHBOARD_DATABASE_URL"], pool_size=10)
    dispatcher = dispatcher_for(GatewaySettings(), db)  # type: ignore[call-arg]
    started = time.monotonic()
    task = asyncio.create_task(dispatcher.run())
    try:
        while await fetch_value(env["SWITCHBOARD_DATABASE_URL"], _PENDING):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return time.monotonic() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()


def run(args: argparse.Namespace) -> dict[str, Any]:
    with postgres_server(args.database_url, args.embedded_postgres) as server_url:
        database = BenchDatabase(server_url, keep=False)
        database.create()
        servers: list[Server] = []
        try:
            migrate("switchboard.gateway:migrations", database.url)
            env = base_env(database.url)
            port = free_port()
            gateway_url = f"http://127.0.0.1:{port}"
            gateway_env = env | {
                "SWITCHBOARD_GATEWAY_HTTP_HOST": "127.0.0.1",
                "SWITCHBOARD_GATEWAY_HTTP_PORT": str(port),
            }
            gateway = Server(
                "gateway-http",
                [sys.executable, "-m", "switchboard.gateway", "http"],
                gateway_env,
                gateway_url,
            ).start()
            servers.append(gateway)
            account = provision(gateway_url, env["SWITCHBOARD_ADMIN_KEY"])
            gateway.stop()
            fake_port = free_port()
            fake = Server(
                "fake-twilio",
                [sys.executable, "-m", "switchboard.devstack.fake_twilio", "--port",
                 str(fake_port), "--account", f"{ACCOUNT_SID}:{account.auth_token}"],
                env,
                f"http://127.0.0.1:{fake_port}",
                ready_path="/healthz",
            ).start()  # fmt: skip
            servers.append(fake)
            if args.senders > 1:
                asyncio.run(fetch_value(database.url, _MORE_SENDERS, args.senders - 1))
            if args.rate is not None:
                rate = "UPDATE gateway.sender_numbers SET messages_per_second = $1"
                asyncio.run(fetch_value(database.url, rate, args.rate))
            asyncio.run(fetch_value(database.url, _SEED, args.messages))
            idle_before = wait_for_quiet(args.quiet, 120.0)
            groups = {"fake_twilio": fake.pid}
            postmaster = asyncio.run(postmaster_pid(database.url))
            if postmaster is not None:
                groups["postgres"] = postmaster
            # The dispatcher runs in this process: its CPU is reported as `load_generator`.
            before = CpuSample.take(groups, load_generator="self")
            seconds = uvloop.run(
                dispatch(env, fake.url, args.rate is not None)
            )  # as the gateway worker runs
            cpu = CpuSample.take(groups, load_generator="self").since(before)
            cpu["dispatcher"] = cpu.pop("load_generator")
            sent = asyncio.run(
                fetch_value(
                    database.url,
                    "SELECT count(*) FROM gateway.outbound_messages WHERE status = 'sent'",
                )
            )
            rates = [
                (row["sent"] - 1) / float(row["seconds"])
                for row in asyncio.run(fetch_rows(database.url, _RATES))
                if row["seconds"]
            ]
            return {
                "benchmark": "dispatcher",
                "settings": {k: v for k, v in vars(args).items() if k != "database_url"},
                "machine": machine_facts(),
                "postgres": postgres_facts(database.url),
                "machine_busy_cores_before": idle_before,
                "messages": args.messages * args.senders,
                "per_number_rates": {
                    "configured": args.rate,
                    "min": min(rates, default=None),
                    "max": max(rates, default=None),
                },
                "sent": int(sent),
                "seconds": seconds,
                "sends_per_second": int(sent) / seconds,
                "cpu": cpu,
            }
        finally:
            for server in servers:
                server.stop()
            database.drop()


def main() -> None:
    args = parse_args()
    result = run(args)
    rates = result["per_number_rates"]
    print_table(
        ["messages", "sent", "seconds", "sends/s", "per number min/max /s", "dispatcher cores",
         "fake cores", "pg cores"],
        [[
            result["messages"], result["sent"], f"{result['seconds']:.1f}",
            f"{result['sends_per_second']:.0f}", f"{rates['min']:.2f} / {rates['max']:.2f}",
            result["cpu"].get("dispatcher"), result["cpu"].get("fake_twilio"),
            result["cpu"].get("postgres"),
        ]],
    )  # fmt: skip
    if rates["configured"] is not None:
        worst = max(abs(r / rates["configured"] - 1) for r in (rates["min"], rates["max"]))
        verdict = "met" if worst <= 0.05 else "MISSED"
        print(f"\nper-number rate {rates['configured']}/s: worst deviation {worst:.1%} "
              f"(target within 5%: {verdict})")  # fmt: skip
    print(f"\nresults: {save_result('dispatcher', result)}")


if __name__ == "__main__":
    main()
