"""`python -m switchboard.<service> http|worker|migrate`: one entry point per service."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import uvicorn
import uvloop

from switchboard.common.migrations import migrate
from switchboard.common.settings import PlatformSettings, ServiceSettings


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    app_factory: str  # "switchboard.gateway.app:create_app"
    worker: Callable[[], Coroutine[Any, Any, None]]
    migrations: str  # "switchboard.gateway:migrations"
    settings: Callable[[], ServiceSettings]


def main(entry: ServiceEntry, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m switchboard.{entry.name}")
    parser.add_argument("command", choices=["http", "worker", "migrate"])
    command = parser.parse_args(argv).command
    if command == "migrate":
        migrate(entry.migrations, PlatformSettings().database_url)
    elif command == "worker":
        worker_main(entry.worker)
    else:
        settings = entry.settings()
        # Objects alive at start-up (modules, routes, models) never die: keep them out of the
        # collector's sight so a full collection does not stall every request in flight.
        gc.freeze()
        uvicorn.run(
            entry.app_factory,
            factory=True,
            host=settings.http_host,
            port=settings.http_port,
            workers=settings.http_workers,
            log_level="warning",
            access_log=False,
            loop="uvloop",
            http="httptools",
        )


def worker_main(worker: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a worker process on uvloop, its garbage collector tuned for records in flight.

    A worker holds up to a thousand records for seconds each (a model call): with the default
    thresholds their objects reached the oldest generation, and full collections, about one a
    second, stalled the loop for ~100 ms each; the collector took a third of the CPU at 300
    messages/s. With a larger young generation most of them die before it is collected.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    uvloop.run(worker())
