"""Batching: many callers' items handled in one call, each caller waiting for its own result.

A caller submits an item and waits. While a call is in flight, the items that arrive meanwhile
queue up and go together in the next one, so a busy service pays for one transaction or query
(a few set-based statements) per batch instead of per item (group commit for writes, one query
for many reads), and a quiet one handles each item at once.

`handle` gets a batch and returns one result per item, in order: a value, or an exception for
an item that is refused on its own. If the whole call fails, a batch of several items is handled
again one item at a time (`isolate_failures`), so one bad item fails alone instead of taking the
items that happened to share its transaction down with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from switchboard.common import telemetry

T = TypeVar("T")
R = TypeVar("R")

Handle = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]


class Batcher(Generic[T, R]):
    """`name` labels its metrics: items per batch, each item's wait for its batch, and each
    batch's duration."""

    def __init__(
        self,
        handle: Handle[T, R],
        *,
        name: str,
        max_batch: int = 500,
        max_concurrent: int = 2,
        isolate_failures: bool = True,
    ) -> None:
        self.handle = handle
        self.max_batch = max_batch
        self.max_concurrent = max_concurrent
        self.isolate_failures = isolate_failures
        self._items = telemetry.BATCH_ITEMS.labels(name)
        self._wait = telemetry.BATCH_WAIT.labels(name)
        self._duration = telemetry.BATCH_DURATION.labels(name)
        self._pending: list[tuple[T, asyncio.Future[R], float]] = []
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        """Returns `item`'s result once its batch is handled (or raises its error)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future, time.perf_counter()))
        if self._running < self.max_concurrent:
            self._running += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                started = time.perf_counter()
                for _, _, submitted in batch:
                    self._wait.observe(started - submitted)
                self._items.observe(len(batch))
                await self._handle([(item, future) for item, future, _ in batch])
                self._duration.observe(time.perf_counter() - started)
        finally:
            self._running -= 1

    async def _handle(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self.handle([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to the callers, or retried one by one
            if self.isolate_failures and len(batch) > 1:
                for one in batch:
                    await self._handle([one])
                return
            results = [exc] * len(batch)
        if len(results) != len(batch):
            mismatch = RuntimeError(f"a batch of {len(batch)} got {len(results)} results")
            results = [mismatch] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the caller was cancelled
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
