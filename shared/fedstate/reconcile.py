"""A controller-runtime-style work queue: watches enqueue keys, workers reconcile them.

Serial per key, parallel across keys. A reconcile returns ``Result`` (optionally
``requeue_after``); an exception means retry with exponential backoff; a new
enqueue of a key interrupts its backoff so fresh state is looked at at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from opentelemetry import context as otel_context
from prometheus_client import Counter, Gauge, Histogram

from fedstate import telemetry

log = logging.getLogger(__name__)

RECONCILES = Counter("fedstate_reconcile_total", "Reconcile passes", ["controller", "result"])
PASS_TRIGGERS = Counter(
    "fedstate_reconcile_triggers_total", "Reconcile passes by what started them", ["controller", "trigger"]
)
RECONCILE_SECONDS = Histogram(
    "fedstate_reconcile_duration_seconds",
    "Reconcile pass duration",
    ["controller"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_DEPTH = Gauge("fedstate_queue_depth", "Keys waiting to be reconciled", ["controller"])


# A connection refused or a timeout (a member cluster's API restarting or down, a NATS ack late under load) is the
# weather of a distributed system: retried with backoff, it is a warning the first few times, and an error (with
# its traceback) once it has failed this many times in a row. Anything else is an error at once.
PERSISTENT_FAILURES = 5
# A persistent outage fails every key of a controller (a member cluster down: each of its instances): it is told
# as an error once per this long per controller, each further key's failure a warning, not an error per key.
OUTAGE_TOLD_EVERY_SECONDS = 300.0


def weather(exc: BaseException) -> bool:
    """A failure that heals without the key's help. ``OSError`` covers refused connections, aiohttp's connection
    errors and every timeout (``TimeoutError`` is one, and nats-py's subclasses it); an exception class may say
    it is one with ``transient = True`` (a leader's write fenced while its lease is not renewed)."""
    return isinstance(exc, OSError) or getattr(exc, "transient", False) is True


def passing_trouble(exc: BaseException, failures: int) -> bool:
    """Is this failure worth a warning rather than an error?"""
    return weather(exc) and failures < PERSISTENT_FAILURES


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None
    # A look again at a key that needs nothing now (``resync_after``), not a wait for work in progress.
    steady: bool = False
    # Answered from memory: the pass found its inputs as a pass that changed nothing left them (its span is dropped).
    from_memory: bool = False

    @property
    def settled(self) -> bool:
        """Nothing more to do for the change being followed: its trace ends with this pass."""
        return self.requeue_after is None or self.steady


DONE = Result()
# Safety-net resyncs are spread over ±10 % of their period: a fleet created at once would otherwise come
# back all at once, every period, for its whole life.
RESYNC_SPREAD = 0.1


def resync_after(seconds: float, *, from_memory: bool = False) -> Result:
    """Look at a steady key again in about ``seconds``; ``from_memory``: this pass read nothing new and did nothing."""
    spread = seconds * random.uniform(1 - RESYNC_SPREAD, 1 + RESYNC_SPREAD)
    return Result(requeue_after=spread, steady=True, from_memory=from_memory)


Reconciler = Callable[[str], Awaitable[Result]]
_CONTROLLERS: dict[str, weakref.WeakSet[Controller]] = {}


# How many passes without a change of their own (requeues while busy, retries, informer events) one change's
# trace follows: a key that never settles would otherwise grow one trace for as long as it lives.
TRACED_PASSES = 32


@dataclass
class _KeyState:
    dirty: asyncio.Event
    headers: Mapping[str, str]
    failures: int = 0
    # The trace of the change being worked on, until a pass settles it; and the passes it has had so far.
    following: otel_context.Context | None = None
    traced_passes: int = 0
    trigger: str = "change"  # why the next pass runs (telemetry.TRIGGER)


class Controller:
    """Runs ``reconcile(key)`` for every enqueued key, one pass at a time per key."""

    def __init__(
        self,
        name: str,
        reconcile: Reconciler,
        *,
        max_concurrency: int = 32,
        base_backoff: float = 0.2,
        max_backoff: float = 30.0,
    ) -> None:
        self.name = name
        self._reconcile = reconcile
        self._keys: dict[str, _KeyState] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max_concurrency)
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._tracer = telemetry.tracer(f"fedstate.{name}")
        self._closed = False
        self._awaiting_slot = 0
        self._outage_told_at: float | None = None  # monotonic time a persistent outage was last told as an error
        # Counted when scraped: counting on every enqueue cost O(keys) per change, a fleet's worth per event.
        # Summed over the controllers of one name: clusters sharing a process each have their own.
        named = _CONTROLLERS.setdefault(name, weakref.WeakSet())
        named.add(self)
        QUEUE_DEPTH.labels(name).set_function(lambda: sum(c.waiting for c in named))

    def enqueue(self, key: str, headers: Mapping[str, str] | None = None) -> None:
        if self._closed:
            return
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState(asyncio.Event(), headers or {})
        elif headers:
            state.headers = headers
        state.trigger = "change"
        state.dirty.set()
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"{self.name}:{key}")

    async def _work(self, key: str) -> None:
        state = self._keys[key]
        try:
            while state.dirty.is_set():
                state.dirty.clear()
                delay = await self._pass(key, state)
                # An enqueue during the pass left ``dirty`` set: go again at once, whatever the delay.
                if delay is not None and not state.dirty.is_set():
                    await self._sleep_unless_dirty(state, delay)
        finally:
            self._workers.pop(key, None)
            if not state.dirty.is_set():
                self._keys.pop(key, None)
            elif not self._closed:  # enqueued while we were finishing
                self._workers[key] = asyncio.create_task(self._work(key), name=f"{self.name}:{key}")

    async def _pass(self, key: str, state: _KeyState) -> float | None:
        """One reconcile; returns how long to wait before the next pass, or None when done."""
        parent = self._trace_of_pass(state)
        self._awaiting_slot += 1
        try:
            await self._slots.acquire()
        finally:
            self._awaiting_slot -= 1
        started = time.perf_counter()  # the pass itself, not its wait for a slot
        try:
            token = otel_context.attach(parent)
            try:
                attributes = {"key": key, telemetry.TRIGGER: state.trigger}
                PASS_TRIGGERS.labels(self.name, state.trigger).inc()
                state.trigger = "requeue"  # unless the key is enqueued again before the next pass
                with self._tracer.start_as_current_span(f"reconcile {self.name}", attributes=attributes) as span:
                    result = await self._reconcile(key)
                    if result.from_memory:
                        span.set_attribute(telemetry.FROM_MEMORY, True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                state.failures += 1
                RECONCILES.labels(self.name, "error").inc()
                backoff = min(self._max_backoff, self._base_backoff * 2 ** (state.failures - 1))
                extra = {"controller": self.name, "key": key, "retryIn": backoff, "failures": state.failures}
                if passing_trouble(exc, state.failures) or self._outage_told(exc):
                    log.warning("reconcile failed; retrying", extra={**extra, "error": repr(exc)})
                else:
                    log.exception("reconcile failed", extra=extra)
                if state.trigger == "requeue":  # not enqueued again during the failed pass
                    state.trigger = "retry"
                return backoff
            finally:
                otel_context.detach(token)
                RECONCILE_SECONDS.labels(self.name).observe(time.perf_counter() - started)
        finally:
            self._slots.release()
        state.failures = 0
        if result.settled:
            state.following = None
        RECONCILES.labels(self.name, "requeue" if result.requeue_after else "done").inc()
        return result.requeue_after

    def _outage_told(self, exc: BaseException) -> bool:
        """Whether this persistent connection failure or timeout was told as an error by another key of this
        controller lately (and, if not, that it is being told now)."""
        if not weather(exc):
            return False
        now = time.monotonic()
        if self._outage_told_at is not None and now - self._outage_told_at < OUTAGE_TOLD_EVERY_SECONDS:
            return True
        self._outage_told_at = now
        return False

    @staticmethod
    def _trace_of_pass(state: _KeyState) -> otel_context.Context:
        """The trace a pass belongs to: that of the change that caused it; else that of the change still being
        worked on (a requeue while busy, a retry, a change that carries no trace), for ``TRACED_PASSES`` passes
        at most; else none (a resync of a settled key is work of its own, in a trace of its own)."""
        headers, state.headers = state.headers, {}
        if telemetry.carries_trace(headers):
            state.following, state.traced_passes = telemetry.extract(headers), 0
        elif state.following is not None:
            state.traced_passes += 1
            if state.traced_passes >= TRACED_PASSES:
                state.following = None
        return state.following if state.following is not None else otel_context.Context()

    async def _sleep_unless_dirty(self, state: _KeyState, delay: float) -> None:
        """Wait ``delay`` seconds, or less if the key is enqueued again meanwhile; then mark it due."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):  # not ``wait_for``: on 3.11 it can swallow a cancellation
                await state.dirty.wait()
        state.dirty.set()

    async def close(self) -> None:
        self._closed = True
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    @property
    def waiting(self) -> int:
        """Keys due for a pass that has not started yet: marked dirty, or waiting for a worker slot."""
        return self._awaiting_slot + sum(state.dirty.is_set() for state in self._keys.values())

    @property
    def pending(self) -> int:
        return len(self._keys)
