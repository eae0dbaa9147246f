"""The controller skeleton: a work queue of keys, a serial worker, ``Result(requeue_after=...)``
for timed retries and exponential backoff on exceptions (controller-runtime's shape).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass

from fedstate_sim.kube.context import ClusterContext
from fedstate_sim.kube.errors import ApiError

log = logging.getLogger(__name__)
_BATCH = 64  # keys handled before yielding to the event loop
_MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None


class Controller(ABC):
    name = "controller"

    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx
        self._pending: dict[Hashable, None] = {}
        self._wakeup = asyncio.Event()
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._failures: dict[Hashable, int] = {}
        self._task: asyncio.Task[None] | None = None
        self.register()

    @abstractmethod
    def register(self) -> None:
        """Add store listeners that enqueue keys."""

    @abstractmethod
    async def reconcile(self, key: Hashable) -> Result | None:
        """Bring the object named by ``key`` towards its desired state, reading the store afresh."""

    def enqueue(self, key: Hashable) -> None:
        self._pending[key] = None
        self._wakeup.set()

    def enqueue_after(self, key: Hashable, delay: float) -> None:
        if key in self._timers:
            self._timers[key].cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self.enqueue(key)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.ctx.name}-{self.name}")

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            handled = 0
            while self._pending:
                key = next(iter(self._pending))
                del self._pending[key]
                await self._reconcile_safely(key)
                handled += 1
                if handled % _BATCH == 0:
                    await asyncio.sleep(0)

    async def _reconcile_safely(self, key: Hashable) -> None:
        try:
            result = await self.reconcile(key)
        except ApiError as exc:
            self._retry(key, exc, quiet=exc.code == 409)
            return
        except Exception as exc:
            self._retry(key, exc, quiet=False)
            return
        self._failures.pop(key, None)
        if result is not None and result.requeue_after is not None:
            self.enqueue_after(key, result.requeue_after)

    def _retry(self, key: Hashable, exc: Exception, quiet: bool) -> None:
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay = min(_MAX_BACKOFF, 0.01 * 2**failures)
        if not quiet:
            log.warning(
                "fedstate simulator: %s/%s failed on %r (retry in %.2fs): %s",
                self.ctx.name,
                self.name,
                key,
                delay,
                exc,
                exc_info=not isinstance(exc, ApiError),
            )
        self.enqueue_after(key, delay)
