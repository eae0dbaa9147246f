"""The scheduler's garbage-collector policy: keep long-lived snapshots out of full collections.

Most of what the scheduler holds lives for many decisions: the interned nodes of every
cluster, their tables and verdicts. Python's cyclic collector walks all of it in each full
collection (4 to 5 ms at 100 clusters of 50 nodes), and such a collection lands inside a
decision often enough to set its p99 (docs/performance.md, Scheduler).

So after heartbeats have been taken in, at most every ``settle_every``, ``HeapKeeper.settle``
collects what is young and freezes the rest (``gc.freeze``): later collections walk only
what arrived since. Frozen objects are still freed by reference counting when the next
heartbeat replaces them; only garbage *cycles* among them would wait, so every
``thaw_every`` the heap is unfrozen and fully collected once. No decision is changed by
any of this, only when the collector's pauses fall.
"""

from __future__ import annotations

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
