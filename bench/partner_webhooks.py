"""Partner webhook delivery throughput, and whether one slow endpoint slows the others.

Deliveries are written straight into a fresh database (as the partner consumer would), then the
gateway's delivery loop (`WebhookSender`, the worker's code) runs in this process and posts them,
signed, to a receiver in another process on 127.0.0.1. Two runs: only fast endpoints, then the
same plus one endpoint that takes `--slow-seconds` to answer each request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import uvloop
from benchkit import (
    BenchDatabase,
    postgres_facts,
    postgres_server,
    print_table,
    save_result,
)
from cryptography.fernet import Fernet

from switchboard.common.db import Database, asyncpg_dsn
from switchboard.common.migrations import migrate
from switchboard.gateway.crypto import CredentialCipher
from switchboard.gateway.partners.payloads import payload
from switchboard.gateway.partners.sender import WebhookSender
from switchboard.gateway.partners.service import seal_secret
from switchboard.gateway.partners.signing import new_secret
from switchboard.gateway.partners.targets import TargetPolicy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", help="PostgreSQL server (maintenance URL)")
    parser.add_argument("--embedded-postgres", action="store_true")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--deliveries", type=int, default=20_000, help="to the fast endpoints")
    parser.add_argument("--endpoints", type=int, default=10, help="fast endpoints")
    parser.add_argument("--slow-deliveries", type=int, default=2_000)
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--endpoint-concurrency", type=int, default=16)
    parser.add_argument("--receiver-port", type=int, default=18777)
    parser.add_argument("--serve-receiver", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# The receiver (a separate process) -----------------------------------------------------------


def serve_receiver(port: int) -> None:
    import uvicorn

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        if scope["path"].startswith("/slow"):
            await asyncio.sleep(float(scope["path"].rsplit("/", 1)[-1]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def start_receiver(port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-receiver", str(port)
    )
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return process
    raise RuntimeError("the receiver did not start")


# Data -----------------------------------------------------------------------------------------


async def add_endpoint(conn: asyncpg.Connection, cipher: CredentialCipher, url: str) -> UUID:
    endpoint_id = uuid4()
    await conn.execute(
        """INSERT INTO gateway.webhook_endpoints
           (id, tenant_id, url, description, event_types, enabled, secret)
           VALUES ($1, $2, $3, '', '{message.received}', true, $4)""",
        endpoint_id,
        uuid4(),
        url,
        seal_secret(cipher, new_secret()),
    )
    return endpoint_id


async def add_deliveries(conn: asyncpg.Connection, endpoint_id: UUID, count: int) -> None:
    body = payload(
        "message.received",
        datetime.now(UTC),
        {"message_id": str(uuid4()), "body": "Hi! Is my order #4412 on its way?"},
    )
    await conn.execute(
        """INSERT INTO gateway.webhook_deliveries
           (id, tenant_id, endpoint_id, event_id, event_type, payload, status, attempts,
            next_attempt_at)
           SELECT gen_random_uuid(), gen_random_uuid(), $1, gen_random_uuid(),
                  'message.received', $2, 'pending', 0, now()
           FROM generate_series(1, $3)""",
        endpoint_id,
        body,
        count,
    )


async def succeeded(conn: asyncpg.Connection, endpoints: list[UUID]) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM gateway.webhook_deliveries"
        " WHERE status = 'succeeded' AND endpoint_id = ANY($1)",
        endpoints,
    )
    return count


# A run ----------------------------------------------------------------------------------------


async def one_run(
    database_url: str, args: argparse.Namespace, *, with_slow: bool
) -> dict[str, Any]:
    cipher = CredentialCipher(Fernet.generate_key().decode())
    base = f"http://127.0.0.1:{args.receiver_port}"
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    await conn.execute("TRUNCATE gateway.webhook_endpoints CASCADE")
    fast = [await add_endpoint(conn, cipher, f"{base}/fast/{i}") for i in range(args.endpoints)]
    share = args.deliveries // len(fast)
    for endpoint_id in fast:
        await add_deliveries(conn, endpoint_id, share)
    total = share * len(fast)
    slow: list[UUID] = []
    if with_slow:
        slow = [await add_endpoint(conn, cipher, f"{base}/slow/{args.slow_seconds}")]
        await add_deliveries(conn, slow[0], args.slow_deliveries)
    db = Database(database_url, pool_size=8)
    sender = WebhookSender(
        db,
        cipher,
        policy=TargetPolicy(allow_private=True, allow_http=True),
        concurrency=args.concurrency,
        endpoint_concurrency=args.endpoint_concurrency,
        timeout=args.slow_seconds + 10,
    )
    started = time.perf_counter()
    task = asyncio.create_task(sender.run())
    try:
        while (done := await succeeded(conn, fast)) < total:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        slow_done = await succeeded(conn, slow) if slow else 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()
        attempts = await conn.fetchval("SELECT count(*) FROM gateway.webhook_attempts")
        await conn.close()
    return {
        "with_slow_endpoint": with_slow,
        "fast_deliveries": done,
        "seconds": round(elapsed, 2),
        "deliveries_per_second": round(done / elapsed),
        "slow_deliveries_done": slow_done,
        "attempts_logged": attempts,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with postgres_server(args.database_url, args.embedded_postgres) as server_url:
        database = BenchDatabase(server_url, keep=args.keep_database)
        database.create()
        try:
            migrate("switchboard.gateway:migrations", database.url)

            async def both() -> list[dict[str, Any]]:
                receiver = await start_receiver(args.receiver_port)
                try:
                    return [
                        await one_run(database.url, args, with_slow=False),
                        await one_run(database.url, args, with_slow=True),
                    ]
                finally:
                    with contextlib.suppress(ProcessLookupError):  # it may have exited already
                        receiver.terminate()
                    await receiver.wait()

            runs = uvloop.run(both())  # the event loop the gateway worker runs on
            return {"postgres": postgres_facts(database.url), "args": vars(args), "runs": runs}
        finally:
            database.drop()


def main() -> None:
    args = parse_args()
    if args.serve_receiver:
        serve_receiver(args.serve_receiver)
        return
    result = run(args)
    keys = list(result["runs"][0])
    print_table(keys, [[r[k] for k in keys] for r in result["runs"]])
    print(f"\nresults: {save_result('partner_webhooks', result)}")


if __name__ == "__main__":
    main()
