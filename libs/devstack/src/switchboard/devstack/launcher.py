"""`make run`: the whole platform on embedded defaults, stopped cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx

from switchboard.common.kafka import ensure_topics
from switchboard.common.migrations import migrate
from switchboard.devstack.infra import Broker, EmbeddedPostgres, free_port
from switchboard.devstack.processes import DEFAULT_PORTS, SERVICES, Platform
from switchboard.devstack.state import DEMO_ACCOUNT_SID, DEMO_NUMBER, STATE_DIR, DevState


def run() -> None:
    state = DevState.load()
    started: list[Broker | EmbeddedPostgres] = []
    platform: Platform | None = None
    try:
        database_url = os.environ.get("SWITCHBOARD_DATABASE_URL") or _embedded_postgres(started)
        bootstrap = os.environ.get("SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS") or _embedded_broker(
            started
        )
        print("• creating topics and migrating schemas")
        asyncio.run(ensure_topics(bootstrap))
        for service in SERVICES:
            migrate(f"switchboard.{service}:migrations", database_url)
        env = {
            **os.environ,
            "SWITCHBOARD_DATABASE_URL": database_url,
            "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "SWITCHBOARD_ADMIN_KEY": state["SWITCHBOARD_ADMIN_KEY"],
            "SWITCHBOARD_GATEWAY_CREDENTIALS_KEY": state["SWITCHBOARD_GATEWAY_CREDENTIALS_KEY"],
            "SWITCHBOARD_LOG_FORMAT": os.environ.get("SWITCHBOARD_LOG_FORMAT", "console"),
        }
        platform = Platform(env=env, ports=dict(DEFAULT_PORTS), log_dir=STATE_DIR / "logs")
        print("• starting every service (logs in .switchboard/logs/)")
        platform.start()
        _seed_demo(state, platform.url("gateway"))
        _print_banner(state, platform)
        _wait_for_interrupt()
    finally:
        print("\n• stopping")
        if platform is not None:
            platform.stop()
        for component in reversed(started):
            component.stop()
        print("• stopped")


def _embedded_postgres(started: list[Broker | EmbeddedPostgres]) -> str:
    print("• starting embedded PostgreSQL (pgserver) in .switchboard/pgdata")
    server = EmbeddedPostgres(Path(STATE_DIR / "pgdata").resolve()).start()
    started.append(server)
    exists = server.server.psql("SELECT 1 FROM pg_database WHERE datname = 'switchboard';")
    if "1 row" not in exists:
        server.create_database("switchboard")
    return server.url("switchboard")


def _embedded_broker(started: list[Broker | EmbeddedPostgres]) -> str:
    print("• starting the Kafka-protocol broker (Tansu, in-memory)")
    port = 9092 if _port_free(9092) else free_port()
    broker = Broker(port=port, log_path=(STATE_DIR / "tansu.log").resolve()).start()
    started.append(broker)
    return broker.bootstrap_servers


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _seed_demo(state: DevState, gateway: str) -> None:
    """A demo tenant with one number, kept across runs while the database is."""
    key = state.get("DEMO_API_KEY")
    if key and httpx.get(f"{gateway}/v1/tenants/me", headers=_auth(key)).status_code == 200:
        return
    admin = _auth(state["SWITCHBOARD_ADMIN_KEY"])
    tenant = httpx.post(f"{gateway}/v1/tenants", json={"name": "Demo"}, headers=admin)
    tenant.raise_for_status()
    key = tenant.json()["api_key"]["api_key"]
    number = {
        "address": DEMO_NUMBER,
        "twilio": {"account_sid": DEMO_ACCOUNT_SID, "auth_token": state["DEMO_TWILIO_AUTH_TOKEN"]},
    }
    httpx.post(f"{gateway}/v1/numbers", json=number, headers=_auth(key)).raise_for_status()
    state.values["DEMO_API_KEY"] = key
    state.save()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _print_banner(state: DevState, platform: Platform) -> None:
    print("\nSwitchboard is running: offline LLM provider, SANDBOX transport (nothing leaves)\n")
    print(f"  {'service':<14}{'API docs':<36}metrics")
    for service in SERVICES:
        http, worker = platform.ports[service]
        print(
            f"  {service:<14}{f'http://127.0.0.1:{http}/docs':<36}"
            f"http://127.0.0.1:{http}/metrics, http://127.0.0.1:{worker}/metrics"
        )
    print(f"\n  demo tenant API key: {state['DEMO_API_KEY']}")
    print(f"  demo number:         {DEMO_NUMBER}")
    print("\nTry, in another terminal:")
    print('  uv run switchboard sms "Hi! Are you open on Sunday?"')
    print("  uv run switchboard outbox\n")
    print("Ctrl-C stops everything.")


def _wait_for_interrupt() -> None:
    stop = False

    def handler(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, handler)
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
