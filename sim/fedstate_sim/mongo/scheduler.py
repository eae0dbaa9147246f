"""One timer heap for the whole fabric.

Heartbeat rounds and replication ticks of every replica set are entries in a
single heap, fired from one event-loop timer. Entries due within ``granularity``
of each other run in the same wake-up, so thousands of idle sets cost a few
dozen wake-ups per second rather than one task per member.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable

log = logging.getLogger("fedstate_sim.mongo")

Job = Callable[[float], None]


class Scheduled:
    """A handle to one scheduled job; ``cancel()`` makes it a no-op."""

    __slots__ = ("cancelled", "due", "job")

    def __init__(self, due: float, job: Job) -> None:
        self.due = due
        self.job = job
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """Runs ``job(now)`` at (about) the requested loop time."""

    def __init__(self, granularity: float = 0.005) -> None:
        self.granularity = granularity
        self._heap: list[tuple[float, int, Scheduled]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = float("inf")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._firing = False
        self.wakeups = 0  # timer firings so far, for benchmarks

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        return self.loop.time()

    def call_at(self, due: float, job: Job) -> Scheduled:
        entry = Scheduled(due, job)
        heapq.heappush(self._heap, (due, next(self._seq), entry))
        if due < self._timer_due and not self._firing:
            self._arm(due)
        return entry

    def call_later(self, delay: float, job: Job) -> Scheduled:
        return self.call_at(self.now() + delay, job)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._heap.clear()
        self._timer, self._timer_due = None, float("inf")

    def _arm(self, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = self.loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer, self._timer_due = None, float("inf")
        self.wakeups += 1
        now = self.now()
        due = self._pop_due(now + self.granularity)
        self._firing = True
        try:
            for entry in due:
                if not entry.cancelled:
                    self._run(entry, now)
        finally:
            self._firing = False
        if self._heap:
            self._arm(self._heap[0][0])

    def _pop_due(self, horizon: float) -> list[Scheduled]:
        """Entries due by ``horizon``; jobs they schedule wait for the next wake-up."""
        due = []
        while self._heap and (self._heap[0][0] <= horizon or self._heap[0][2].cancelled):
            due.append(heapq.heappop(self._heap)[2])
        return due

    @staticmethod
    def _run(entry: Scheduled, now: float) -> None:
        try:
            entry.job(now)
        except Exception:  # a bug in one set must not stop every other set's heartbeats
            log.exception("fedstate simulator: scheduled job failed")
