"""Records processed as a pipeline: one key's in order, different keys at once, a bounded number.

A consumer whose handler waits on slow outside work (the conversation worker calls a model for
seconds) cannot wait for a whole fetched batch before fetching the next: throughput would be
capped at one batch per slowest record, and the work in flight would drop to nothing at every
batch boundary. Here records are taken as they are fetched and each key (a contact) has its own
queue, so a slow record holds up only the later records of its key.

Kafka keeps one committed offset per partition, meaning "everything below is done". Records now
finish out of order, so what may be committed is the offset of the oldest record of the partition
not yet finished: a restart redelivers it and everything after it (the inbox drops those already
applied), and never skips one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from contextlib import suppress

from aiokafka import ConsumerRecord, TopicPartition

from switchboard.common import telemetry

Process = Callable[[ConsumerRecord], Awaitable[None]]


class PartitionOffsets:
    """The records of one partition taken and not finished yet, and what is safe to commit."""

    def __init__(self) -> None:
        self._unfinished: deque[int] = deque()  # offsets taken, in order (fetches are in order)
        self._finished_early: set[int] = set()  # finished while an older one was unfinished
        self._next: int | None = None

    def taken(self, offset: int) -> None:
        self._unfinished.append(offset)
        self._next = offset + 1

    def finished(self, offset: int) -> None:
        self._finished_early.add(offset)
        while self._unfinished and self._unfinished[0] in self._finished_early:
            self._finished_early.remove(self._unfinished.popleft())

    @property
    def committable(self) -> int | None:
        """The oldest unfinished offset, or past the last record taken when all are finished."""
        return self._unfinished[0] if self._unfinished else self._next

    def __len__(self) -> int:
        return len(self._unfinished) - len(self._finished_early)


class KeyedPipeline:
    """Records in progress for one consumer, at most `limit` taken and unfinished at a time."""

    def __init__(self, process: Process, *, limit: int, consumer: str) -> None:
        if limit < 1:
            raise ValueError("A pipeline needs room for at least one record.")
        self._process = process
        self._limit = limit
        self._offsets: dict[TopicPartition, PartitionOffsets] = {}
        self._queues: dict[tuple[TopicPartition, bytes | None], deque[ConsumerRecord]] = {}
        self._runners: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        self._in_flight = 0
        self._changed = asyncio.Event()
        self._failure: BaseException | None = None
        self._gauge = telemetry.CONSUMER_IN_FLIGHT.labels(consumer)

    @property
    def room(self) -> int:
        return self._limit - self._in_flight

    def add(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        """Take fetched records: each joins its key's queue, and a new key starts at once."""
        offsets = self._offsets.setdefault(tp, PartitionOffsets())
        for record in records:
            offsets.taken(record.offset)
            self._in_flight += 1
            queue = self._queues.get((tp, record.key))
            if queue is not None:
                queue.append(record)
                continue
            self._queues[(tp, record.key)] = deque([record])
            runner = asyncio.create_task(self._run_key(tp, record.key, offsets))
            runners = self._runners.setdefault(tp, set())
            runners.add(runner)
            runner.add_done_callback(self._runner_done(runners))
        self._gauge.set(self._in_flight)

    async def _run_key(
        self, tp: TopicPartition, key: bytes | None, offsets: PartitionOffsets
    ) -> None:
        queue = self._queues[(tp, key)]
        while queue:
            record = queue[0]
            await self._process(record)
            queue.popleft()
            offsets.finished(record.offset)
            self._in_flight -= 1
            self._gauge.set(self._in_flight)
            self._changed.set()
        del self._queues[(tp, key)]

    def _runner_done(
        self, runners: set[asyncio.Task[None]]
    ) -> Callable[[asyncio.Task[None]], None]:
        def done(runner: asyncio.Task[None]) -> None:
            runners.discard(runner)
            if not runner.cancelled() and runner.exception() and self._failure is None:
                # `_process` handles the handler's own errors; this is the machinery failing
                # (the dead-letter topic unreachable): the consumer must stop, not skip.
                self._failure = runner.exception()
                self._changed.set()

        return done

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def wait_for_room(self, seconds: float) -> None:
        """Until a record finishes (or a runner fails), at most `seconds`."""
        self._changed.clear()
        if self.room > 0 or self._failure is not None:
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)

    def committable(self) -> dict[TopicPartition, int]:
        """Per partition, the offset to commit: nothing unfinished is below it."""
        safe = {tp: offsets.committable for tp, offsets in self._offsets.items()}
        return {tp: offset for tp, offset in safe.items() if offset is not None}

    async def release(
        self, partitions: Collection[TopicPartition], grace: float
    ) -> dict[TopicPartition, int]:
        """Let go of partitions (revoked, or the consumer stops); returns their safe offsets.

        Records not started are dropped and the records running get `grace` seconds to finish
        (a model call already paid for is worth keeping); the rest are cancelled. Whoever reads
        the partitions next starts at the returned offsets: every record not finished here is
        redelivered.
        """
        partitions = [tp for tp in partitions if tp in self._offsets]
        for (tp, _), queue in self._queues.items():
            if tp in partitions:
                while len(queue) > 1:
                    queue.pop()
        running = {runner for tp in partitions for runner in self._runners.get(tp, ())}
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for runner in late:
                runner.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        released = {}
        for tp in partitions:
            offsets = self._offsets.pop(tp, None)
            if offsets is None:  # released meanwhile by a rebalance and a stop at once
                continue
            self._runners.pop(tp, None)
            self._in_flight -= len(offsets)
            if offsets.committable is not None:
                released[tp] = offsets.committable
        for key in [key for key in self._queues if key[0] in partitions]:
            del self._queues[key]
        self._gauge.set(self._in_flight)
        self._changed.set()
        return released
