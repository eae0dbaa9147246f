"""A service's garbage-collector policy: keep what lives long out of the cyclic collector's full passes.

Most of what a service holds lives long: its imports (the Kubernetes client's API and model classes alone
are about 200,000 objects), its caches of the buckets, its informers' objects, the scheduler's interned nodes.
Python's cyclic collector walks all of it in every full collection, and a full collection comes whenever what
survived since the last one has grown by a quarter: at 1,000 instances, the federation walked its caches 20
times in a create, about 290 ms of CPU each with its event loop stopped, and the agents spent 13 CPU-s so
(docs/performance.md). Such a pass landing inside a decision also sets the decision's p99.

So ``HeapKeeper.settle`` collects what is young and freezes the survivors (``gc.freeze``): later collections
walk only what arrived since. A service settles as it starts (``fedstate.service``) and then after each
middle-generation collection, at most every ``settle_every`` (``keep``); the scheduler also settles after it
takes in heartbeats. Frozen objects are still freed by reference counting when nothing refers to them;
only garbage *cycles* among them would wait, so every ``thaw_every`` the heap is unfrozen and fully
collected once. No decision is changed by any of this, only when the collector's pauses fall and how much
they walk.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    settling: bool = field(default=False, init=False)  # its own collection is under way: not news to ``keep``
    frozen_since_thaw: bool = field(default=False, init=False)  # what a thaw would give back to the collector
    _settled: float = field(default=float("-inf"), init=False)
    _thawed: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._thawed = self.clock()

    def settle(self, *, force: bool = False) -> bool:
        """Collect the young objects and freeze the survivors, if it is time (or ``force``); True if done."""
        now = self.clock()
        if not force and self.next_in() > 0:
            return False
        thawing = now - self._thawed >= self.thaw_every
        if thawing:
            gc.unfreeze()  # the rare full pass: reclaims any cycle that formed among frozen objects
            self._thawed = now
        self.frozen_since_thaw = not thawing
        self.settling = True
        try:
            gc.collect()
            gc.freeze()
        finally:
            self.settling = False
        self._settled = now
        return True

    def next_in(self) -> float:
        """Seconds until a settle is allowed again (0 when it is)."""
        return max(0.0, self._settled + self.settle_every - self.clock())

    def thaw_in(self) -> float | None:
        """Seconds until the thaw is due, if anything was frozen since the last one (None: nothing to give back)."""
        return max(0.0, self._thawed + self.thaw_every - self.clock()) if self.frozen_since_thaw else None


async def keep(heap: HeapKeeper) -> None:
    """Settle ``heap`` after each middle-generation collection, at most every ``settle_every``; runs until cancelled.

    Told by the collector itself (``gc.callbacks``), not by a timer: such a collection runs once thousands of
    objects have survived young ones, and a steady process, whose few survivors seldom bring one about, is not
    woken at all. (A timer's wakeup costs about 0.2 ms of CPU here: once a second in each of 40 processes, 0.8 %
    of a core for nothing.) It does look once every ``thaw_every``: once something was frozen, the thaw comes
    when due even in a process gone quiet, so the garbage cycles of a create are given back within that time."""
    loop = asyncio.get_running_loop()
    due = asyncio.Event()

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] >= 1 and not heap.settling and not due.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed under a collection in another thread
                loop.call_soon_threadsafe(due.set)

    gc.callbacks.append(on_collection)
    try:
        while True:
            thaw_in = heap.thaw_in()
            try:
                async with asyncio.timeout(heap.thaw_every if thaw_in is None else thaw_in):
                    await due.wait()
            except TimeoutError:
                if heap.thaw_in() == 0.0:  # frozen since (a settle of the runtime's or the scheduler's own)
                    heap.settle(force=True)
                continue
            if (wait := heap.next_in()) > 0:
                await asyncio.sleep(wait)
            due.clear()
            heap.settle()
    finally:
        gc.callbacks.remove(on_collection)
