"""Batching: callers arriving during a call share the next one; a failure stays with its item."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY

from switchboard.common.grouping import Batcher


class Store:
    """Writes groups slowly, refusing odd numbers one by one and any group holding `poison`."""

    def __init__(self, poison: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.poison = poison

    async def write(self, items: list[int]) -> Sequence[str | BaseException]:
        await asyncio.sleep(0.01)
        if self.poison in items:
            raise RuntimeError(f"{self.poison} broke the transaction")
        self.groups.append(items)
        return [ValueError(f"{i} is odd") if i % 2 else f"stored {i}" for i in items]


async def test_callers_arriving_during_a_write_go_together_in_the_next() -> None:
    store = Store()
    groups = Batcher(store.write, name="test", max_concurrent=1)
    first = asyncio.ensure_future(groups.submit(0))
    await asyncio.sleep(0.002)  # its write is under way
    later = await asyncio.gather(*(groups.submit(i * 2) for i in range(1, 50)))
    assert await first == "stored 0"
    assert later == [f"stored {i * 2}" for i in range(1, 50)]
    # The first caller is written alone; the 49 that arrived meanwhile share one write.
    assert [len(g) for g in store.groups] == [1, 49]


async def test_groups_are_capped() -> None:
    store = Store()
    groups = Batcher(store.write, name="test", max_batch=10, max_concurrent=2)
    await asyncio.gather(*(groups.submit(i * 2) for i in range(42)))
    assert sorted(len(g) for g in store.groups) == [2, 10, 10, 10, 10]


async def test_an_item_refused_alone_fails_only_its_caller() -> None:
    groups = Batcher(Store().write, name="test")
    results = await asyncio.gather(*(groups.submit(i) for i in range(4)), return_exceptions=True)
    assert results[0] == "stored 0"
    assert isinstance(results[1], ValueError)
    assert results[2] == "stored 2"


async def test_a_failed_group_is_written_again_one_by_one() -> None:
    store = Store(poison=4)
    groups = Batcher(store.write, name="test", max_concurrent=1)
    results = await asyncio.gather(
        *(groups.submit(i) for i in (0, 2, 4, 6, 8)), return_exceptions=True
    )
    assert [r if isinstance(r, str) else type(r).__name__ for r in results] == [
        "stored 0",
        "stored 2",
        "RuntimeError",
        "stored 6",
        "stored 8",
    ]


async def test_without_isolation_the_whole_group_gets_the_error() -> None:
    store = Store(poison=4)
    groups = Batcher(store.write, name="test", max_concurrent=1, isolate_failures=False)
    first = asyncio.ensure_future(groups.submit(0))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(groups.submit(i)) for i in (2, 4, 6)]
    assert await first == "stored 0"
    for caller in rest:
        with pytest.raises(RuntimeError):
            await caller


def _sample(name: str, batcher: str) -> float:
    return REGISTRY.get_sample_value(name, {"batcher": batcher}) or 0.0


async def test_batches_are_measured() -> None:
    store = Store()
    groups = Batcher(store.write, name="measured", max_concurrent=1)
    first = asyncio.ensure_future(groups.submit(0))
    await asyncio.sleep(0.002)
    await asyncio.gather(first, *(groups.submit(i * 2) for i in range(1, 10)))
    # Two batches (1 item, then the 9 that waited for it), each timed; every item's wait too.
    assert _sample("batch_items_count", "measured") == 2
    assert _sample("batch_items_sum", "measured") == 10
    assert _sample("batch_duration_seconds_count", "measured") == 2
    assert _sample("batch_duration_seconds_sum", "measured") >= 0.02
    assert _sample("batch_wait_seconds_count", "measured") == 10
    # The nine waited for the first batch's 10 ms write.
    assert _sample("batch_wait_seconds_sum", "measured") >= 9 * 0.005
