"""Group commit: many callers' writes in one transaction, each caller waiting for its own.

A caller submits an item and waits. While a write is in flight, the items that arrive meanwhile
queue up and go together in the next one, so a busy service pays for one transaction (and a few
set-based statements) per group instead of per item, and a quiet one writes each item at once.

`write` gets a group and returns one result per item, in order: a value, or an exception for an
item that is refused on its own. If the whole write fails, a group of several items is written
again one item at a time (`isolate_failures`), so one bad item fails alone instead of taking the
items that happened to share its transaction down with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Write = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        write: Write[T, R],
        *,
        max_group: int = 500,
        max_writers: int = 2,
        isolate_failures: bool = True,
    ) -> None:
        self.write = write
        self.max_group = max_group
        self.max_writers = max_writers
        self.isolate_failures = isolate_failures
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._writers = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        """Returns `item`'s result once its group is written (or raises its error)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writers < self.max_writers:
            self._writers += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                group = self._pending[: self.max_group]
                del self._pending[: self.max_group]
                await self._write_group(group)
        finally:
            self._writers -= 1

    async def _write_group(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self.write([item for item, _ in group])
        except Exception as exc:  # noqa: BLE001 - handed to the callers, or retried one by one
            if self.isolate_failures and len(group) > 1:
                for one in group:
                    await self._write_group([one])
                return
            results = [exc] * len(group)
        if len(results) != len(group):
            mismatch = RuntimeError(f"a group of {len(group)} got {len(results)} results")
            results = [mismatch] * len(group)
        for (_, future), result in zip(group, results, strict=True):
            if future.done():  # the caller was cancelled
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
