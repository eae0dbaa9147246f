"""A service's garbage-collector policy: keep what lives long out of the cyclic collector's full passes.

Most of what a service holds lives long: its imports (the Kubernetes client's API and model classes alone
are about 200,000 objects), its caches of the buckets, its informers' objects, the scheduler's interned nodes.
Python's cyclic collector walks all of it in every full collection, and a full collection comes whenever what
survived since the last one has grown by a quarter: at 1,000 instances, the federation walked its caches 20
times in a create, about 290 ms of CPU each with its event loop stopped, and the agents spent 13 CPU-s so
(docs/performance.md). Such a pass landing inside a decision also sets the decision's p99.

So ``HeapKeeper.settle`` collects what is young and freezes the survivors (``gc.freeze``): later collections
walk only what arrived since. A service settles as it starts (``fedstate.service``) and then, at most every
``settle_every``, once thousands of objects have survived young collections (``keep``); the scheduler also settles after
it takes in heartbeats. Frozen objects are still freed by reference counting when nothing refers to them;
only garbage *cycles* among them would wait, so every ``thaw_every`` the heap is unfrozen and fully
collected once. No decision is changed by any of this, only when the collector's pauses fall and how much
they walk.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SETTLE_EVERY_SECONDS = 1.0
THAW_EVERY_SECONDS = 600.0


@dataclass
class HeapKeeper:
    settle_every: float = SETTLE_EVERY_SECONDS
    thaw_every: float = THAW_EVERY_SECONDS
    clock: Callable[[], float] = time.monotonic
    _settled: float = field(default=float("-inf"), init=False)
    _thawed: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._thawed = self.clock()

    def settle(self, *, force: bool = False) -> bool:
        """Collect the young objects and freeze the survivors, if it is time (or ``force``); True if done."""
        now = self.clock()
        if not force and now - self._settled < self.settle_every:
            return False
        if now - self._thawed >= self.thaw_every:
            gc.unfreeze()  # the rare full pass: reclaims any cycle that formed among frozen objects
            self._thawed = now
        gc.collect()
        gc.freeze()
        self._settled = now
        return True


def survivors_since_settled() -> bool:
    """Has a middle-generation collection run since the last full one, so that thousands of objects have
    survived young collections? Short of that there is little to settle: a steady process, whose few survivors
    (a lease's revision, a cache's entry) took a settle every few seconds, is then walked ten times less often."""
    _, _, middle_collections = gc.get_count()
    return middle_collections > 0


async def keep(heap: HeapKeeper) -> None:
    """Settle ``heap`` every ``settle_every`` while objects survive; runs until cancelled."""
    while True:
        await asyncio.sleep(heap.settle_every)
        if survivors_since_settled():
            heap.settle()
