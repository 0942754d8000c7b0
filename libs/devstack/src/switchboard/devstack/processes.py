"""Start every service's HTTP app and worker as separate processes (for `make run` and tests)."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from switchboard.devstack.infra import free_port, stop_process

SERVICES = ("gateway", "conversation", "campaigns", "billing", "metrics")
DEFAULT_PORTS = {name: (8080 + i, 9080 + i) for i, name in enumerate(SERVICES)}


@dataclass
class ServiceProcess:
    service: str
    role: str  # "http" or "worker"
    port: int
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str], log_dir: Path | None) -> None:
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            self.log = (log_dir / f"{self.service}-{self.role}.log").open("ab")
        output = self.log or subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"switchboard.{self.service}", self.role],
            env=env,
            stdout=output,
            stderr=output,
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        if self.log is not None:
            self.log.close()


@dataclass
class Platform:
    """All five services, HTTP and worker each, on the given ports."""

    env: dict[str, str]
    ports: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    log_dir: Path | None = None
    processes: list[ServiceProcess] = field(default_factory=list)

    @classmethod
    def on_free_ports(cls, env: dict[str, str], log_dir: Path | None = None) -> Platform:
        ports = {name: (free_port(), free_port()) for name in SERVICES}
        return cls(env=env, ports=ports, log_dir=log_dir)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service][0]}"

    def service_env(self) -> dict[str, str]:
        env = dict(self.env)
        for name, (http, worker) in self.ports.items():
            env[f"SWITCHBOARD_{name.upper()}_HTTP_PORT"] = str(http)
            env[f"SWITCHBOARD_{name.upper()}_WORKER_PORT"] = str(worker)
        env.setdefault("SWITCHBOARD_GATEWAY_PUBLIC_URL", self.url("gateway"))
        return env

    def start(self, *, only: tuple[str, ...] = SERVICES, timeout: float = 60.0) -> None:
        env = self.service_env()
        for name in only:
            http, worker = self.ports[name]
            for role, port in (("http", http), ("worker", worker)):
                process = ServiceProcess(name, role, port)
                process.start(env, self.log_dir)
                self.processes.append(process)
        self.wait_ready(timeout=timeout)

    def wait_ready(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.processes)
        while pending:
            if time.monotonic() > deadline:
                names = ", ".join(f"{p.service}-{p.role}" for p in pending)
                raise TimeoutError(f"not ready after {timeout}s: {names}")
            for process in list(pending):
                if process.process is not None and process.process.poll() is not None:
                    raise RuntimeError(f"{process.service}-{process.role} exited early")
                if _ready(process.url):
                    pending.remove(process)
            time.sleep(0.1)

    def find(self, service: str, role: str) -> ServiceProcess:
        return next(p for p in self.processes if p.service == service and p.role == role)

    def kill(self, service: str, role: str) -> None:
        """SIGKILL one process, as a crash would."""
        process = self.find(service, role)
        assert process.process is not None
        process.process.kill()
        process.stop()
        self.processes.remove(process)

    def restart(self, service: str, role: str, *, timeout: float = 60.0) -> None:
        http, worker = self.ports[service]
        process = ServiceProcess(service, role, http if role == "http" else worker)
        process.start(self.service_env(), self.log_dir)
        self.processes.append(process)
        self.wait_ready(timeout=timeout)

    def stop(self) -> None:
        """SIGTERM every process at once, then wait for each (SIGKILL after 10 s)."""
        for process in self.processes:
            if process.process is not None and process.process.poll() is None:
                process.process.terminate()
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
