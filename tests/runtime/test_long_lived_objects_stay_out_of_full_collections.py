"""A service's heap policy (``fedstate.heap``): what survives is frozen, so the collector's full passes walk only
what came since (at 1,000 instances the federation's passes over its caches took about 290 ms each); a steady
process is not woken for it; and a garbage cycle among frozen objects is reclaimed at the next thaw."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Iterator

import pytest

from fedstate.heap import HeapKeeper, keep


class Node:
    """Something a cache holds: weakly referable, and able to form a cycle."""

    def __init__(self) -> None:
        self.peer: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen_after() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.collect()


async def stopped(keeper: asyncio.Task[None]) -> None:
    """Cancel the keeper and wait until it has removed its hook from the collector."""
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper
    assert not any(getattr(hook, "__qualname__", "").startswith("keep.") for hook in gc.callbacks)


def tracked(obj: object) -> bool:
    """Is ``obj`` among what a full collection walks?"""
    return any(o is obj for o in gc.get_objects())


async def test_what_survives_is_settled_by_the_keeper_and_left_out_of_later_full_collections() -> None:
    keeper = asyncio.create_task(keep(HeapKeeper(settle_every=0.01)))
    try:
        await asyncio.sleep(0)
        cache = {f"key-{i}": Node() for i in range(20_000)}  # a cache filled as a create goes on
        assert tracked(cache)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not tracked(cache):
                break
    finally:
        await stopped(keeper)
    assert not tracked(cache), "the keeper left a long-lived cache to every full collection"
    assert all(not tracked(node) for node in list(cache.values())[:10])


class CountingKeeper(HeapKeeper):
    def __init__(self) -> None:
        super().__init__(settle_every=0.01)
        self.settles = 0

    def settle(self, *, force: bool = False) -> bool:
        done = super().settle(force=force)
        self.settles += done
        return done


async def test_an_idle_process_is_not_woken_and_a_middle_generation_collection_brings_a_settle() -> None:
    heap = CountingKeeper()
    keeper = asyncio.create_task(keep(heap))
    try:
        await asyncio.sleep(0.2)  # nothing allocated: no collection, so nothing to settle and no wakeup
        assert 0 == heap.settles, "an idle process was settled (a timer's wakeup, or the keeper's own collection)"
        gc.collect(1)  # what thousands of objects surviving young collections bring about
        for _ in range(100):
            await asyncio.sleep(0.01)
            if heap.settles:
                break
        assert 1 == heap.settles
        await asyncio.sleep(0.1)
        assert 1 == heap.settles, "the settle's own collection was taken for news"
    finally:
        await stopped(keeper)


def test_a_cycle_among_frozen_objects_is_reclaimed_at_the_next_thaw_and_not_before() -> None:
    now = [0.0]
    heap = HeapKeeper(settle_every=1.0, thaw_every=600.0, clock=lambda: now[0])
    first, second = Node(), Node()
    first.peer, second.peer = second, first
    gone = weakref.ref(first)
    heap.settle(force=True)
    del first, second  # now garbage, but frozen: only a full collection of everything finds the cycle
    now[0] = 10.0
    heap.settle()
    assert gone() is not None, "frozen objects were collected: the freeze did nothing"
    now[0] = 600.0
    heap.settle()
    assert gone() is None, "a garbage cycle among frozen objects outlived the thaw"


async def test_a_process_gone_quiet_gives_its_frozen_garbage_cycles_back_at_the_thaw() -> None:
    heap = HeapKeeper(settle_every=0.01, thaw_every=0.2)
    keeper = asyncio.create_task(keep(heap))
    try:
        await asyncio.sleep(0)
        first, second = Node(), Node()
        first.peer, second.peer = second, first
        gone = weakref.ref(first)
        heap.settle(force=True)  # frozen, as what a create left behind
        del first, second  # then garbage, and nothing more happens in the process
        for _ in range(100):
            await asyncio.sleep(0.01)
            if gone() is None:
                break
        assert gone() is None, "a quiet process kept a frozen garbage cycle past its thaw"
        assert heap.thaw_in() is None, "after the thaw there is nothing to give back: no more wakeups"
    finally:
        await stopped(keeper)


def test_settles_come_no_oftener_than_the_keeper_allows() -> None:
    now = [0.0]
    heap = HeapKeeper(settle_every=1.0, clock=lambda: now[0])
    assert heap.settle()
    now[0] = 0.5
    assert not heap.settle()
    assert heap.settle(force=True)
    now[0] = 1.6
    assert heap.settle()
