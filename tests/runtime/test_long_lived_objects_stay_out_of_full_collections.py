"""A service's heap policy (``fedstate.heap``): what survives is frozen, so the collector's full passes walk only
what came since (at 1,000 instances the federation's passes over its caches took about 290 ms each); a steady
process is seldom walked; and a garbage cycle among frozen objects is reclaimed at the next thaw."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from fedstate.heap import HeapKeeper, keep, survivors_since_settled


class Node:
    """Something a cache holds: weakly referable, and able to form a cycle."""

    def __init__(self) -> None:
        self.peer: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen_after() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.collect()


def tracked(obj: object) -> bool:
    """Is ``obj`` among what a full collection walks?"""
    return any(o is obj for o in gc.get_objects())


async def test_what_survives_is_settled_by_the_keeper_and_left_out_of_later_full_collections() -> None:
    cache = {f"key-{i}": Node() for i in range(20_000)}  # a cache filled as a create goes on
    assert tracked(cache)
    keeper = asyncio.create_task(keep(HeapKeeper(settle_every=0.01)))
    try:
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not tracked(cache):
                break
    finally:
        keeper.cancel()
    assert not tracked(cache), "the keeper left a long-lived cache to every full collection"
    assert all(not tracked(node) for node in list(cache.values())[:10])


def test_nothing_is_left_to_settle_until_objects_survive_the_young_generations() -> None:
    gc.collect()
    held = [Node() for _ in range(1_000)]
    gc.collect(0)  # a young collection alone: a steady process's few survivors
    assert not survivors_since_settled()
    gc.collect(1)  # what thousands of survivors bring about: a middle-generation collection
    assert survivors_since_settled()
    HeapKeeper().settle(force=True)
    assert not survivors_since_settled()
    assert held


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


def test_settles_come_no_oftener_than_the_keeper_allows() -> None:
    now = [0.0]
    heap = HeapKeeper(settle_every=1.0, clock=lambda: now[0])
    assert heap.settle()
    now[0] = 0.5
    assert not heap.settle()
    assert heap.settle(force=True)
    now[0] = 1.6
    assert heap.settle()
