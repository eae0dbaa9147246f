"""Leader election for the central services' replicas: one KV lease per service, and fencing by it.

Two replicas of the scheduler (or of the orchestrator) run at once; one of them, the holder of
``fs-leases.leader.<service>.<tenant or _all>``, does the work. As client-go's leader election (decision 0013):

- **Renewed with compare-and-set.** The holder rewrites the lease every ``retry`` seconds against the
  revision it last wrote: a lost write means someone else holds it now, and the holder stops at once.
- **Taken over by local time, not by timestamps.** A candidate takes the lease when the revision it sees
  has not changed for ``duration`` seconds *by its own monotonic clock*: two hosts' wall clocks may differ,
  the rate of their clocks does not (much).
- **Fenced.** The leader writes only while its last successful renewal, timed from before it was sent,
  is younger than ``renew_deadline`` (shorter than ``duration``): a leader cut off from NATS stops writing
  before anyone may take over. Every write of its work carries its term (the revision it took the lease
  at) and goes through ``fence``, which refuses once it is deposed; each value is also written with
  compare-and-set, so a write paused between the fence and the server loses to the new leader's.

A killed leader (``kill -9``: no release) is replaced within ``duration + 2 * retry`` seconds (the others
see its last renewal up to ``retry`` late, and look again every ``retry``); one stopped cleanly deletes its
lease and is replaced within ``retry`` seconds. Then the new leader's work starts (mirrors its caches).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from nats.errors import Error as NatsError
from prometheus_client import Gauge

from fedstate.bus.envelope import InvalidValue
from fedstate.bus.names import Elected, leader_key
from fedstate.bus.store import Conflict, TypedKV
from fedstate.models.base import utcnow
from fedstate.models.lease import LeaderLease
from fedstate.settings import ServiceSettings

log = logging.getLogger(__name__)

LEADER = Gauge("fedstate_leader", "1 on the replica that holds its service's leader lease, else 0", ["service"])
# The header every write of a leader's work carries: ``<holder>@<term>``, who wrote it under which lease.
LEADER_HEADER = "Fedstate-Leader"


class Verdict(StrEnum):
    LEAD = "lead"  # the lease is mine: renew it
    WAIT = "wait"  # another replica's, still changing within its duration
    TAKE_OVER = "take-over"  # nobody's, or unchanged for its whole duration: take it


@dataclass(frozen=True)
class Sighting:
    """A lease as one replica saw it: the record (None: absent or deleted), its revision, and when, by this
    replica's monotonic clock, it first saw that revision."""

    lease: LeaderLease | None
    revision: int
    seen_at: float


@dataclass(frozen=True)
class LeaderTiming:
    """Kubernetes' defaults (15 s, 10 s, 2 s): a takeover within 19 s of a crash."""

    duration: float = 15.0
    renew_deadline: float = 10.0
    retry: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry < self.renew_deadline < self.duration:
            raise ValueError(
                f"leader timing needs 0 < retry ({self.retry}) < renew deadline ({self.renew_deadline}) "
                f"< lease duration ({self.duration}): a leader must stop writing before another may take over"
            )

    @classmethod
    def of(cls, settings: ServiceSettings) -> LeaderTiming:
        return cls(settings.leader_lease_seconds, settings.leader_renew_deadline_seconds, settings.leader_retry_seconds)

    @property
    def takeover_bound(self) -> float:
        """The longest a crashed leader's work waits for another replica to take the lease, from the crash."""
        return self.duration + 2 * self.retry


def judge(sighting: Sighting | None, me: str, now: float) -> Verdict:
    """What replica ``me`` does with the lease it saw, at ``now`` by its monotonic clock."""
    if sighting is None or sighting.lease is None:
        return Verdict.TAKE_OVER
    if sighting.lease.holder == me:
        return Verdict.LEAD
    if now - sighting.seen_at >= sighting.lease.duration_seconds:
        return Verdict.TAKE_OVER
    return Verdict.WAIT


def may_write(renewed_at: float | None, now: float, renew_deadline: float) -> bool:
    """Whether a leader whose last successful renewal was sent at ``renewed_at`` may still write."""
    return renewed_at is not None and now - renewed_at < renew_deadline


def replica_name() -> str:
    """One campaign among the replicas: its host (a pod's name in Kubernetes), process id, and a part of its own
    (a body restarted in one process is a new replica, which must not mistake its predecessor's lease for its own)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Deposed(RuntimeError):
    """A write of a leader's work after it lost (or could not renew) its lease: refused, never sent."""

    # The fence working, not a fault of the key: its reconcile is retried once the lease is renewed, and the
    # lease's own trouble is logged by the leadership loop (``fedstate.reconcile.weather``).
    transient = True


class Leadership:
    """One replica's part in the election of ``service``'s leader."""

    def __init__(
        self,
        leases: TypedKV[LeaderLease],
        service: Elected,
        me: str | None = None,
        timing: LeaderTiming | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
        tenant: str | None = None,
    ) -> None:
        self.leases, self.service = leases, service
        self.me = me or replica_name()
        self.timing = timing or LeaderTiming()
        self.key = leader_key(service, tenant)
        self._clock, self._wall = clock, wall
        self._sighting: Sighting | None = None
        self.term: int | None = None  # the revision this replica took the lease at, while it holds it
        self._renewed_at: float | None = None  # when (by our clock) our latest successful write was sent
        LEADER.labels(str(service)).set(0)

    @property
    def leading(self) -> bool:
        return self.term is not None and may_write(self._renewed_at, self._clock(), self.timing.renew_deadline)

    def fence(self) -> dict[str, str]:
        """Before each write of the leader's work: refuse it once deposed, else the headers naming our term."""
        if not self.leading:
            raise Deposed(f"{self.me} does not hold the {self.service} lease (any more): write refused")
        return {LEADER_HEADER: f"{self.me}@{self.term}"}

    async def _observe(self) -> None:
        try:
            entry = await self.leases.get(self.key)
        except InvalidValue as exc:
            # Bad bus input must not stop the service, nor leave the service leaderless: a lease nobody can read
            # counts as none, and is taken over at its revision.
            log.warning("unreadable leader lease taken as none", extra={"lease": self.key, "error": str(exc)})
            revision, lease = await self.leases.last_revision(self.key), None
        else:
            revision, lease = (entry.revision, entry.value) if entry else (0, None)
        if self._sighting is None or self._sighting.revision != revision:
            self._sighting = Sighting(lease, revision, self._clock())

    async def step(self) -> Verdict:
        """One round: look at the lease, judge, and take or renew it (compare-and-set) when that is the verdict."""
        try:
            await self._observe()
        except (NatsError, TimeoutError) as exc:
            log.warning("leader lease not read", extra={"lease": self.key, "error": repr(exc)})
            self._show()
            return Verdict.WAIT
        verdict = judge(self._sighting, self.me, self._clock())
        if verdict is Verdict.WAIT:
            self.term = None  # another replica holds it
        else:
            await self._write(taking=verdict is Verdict.TAKE_OVER)
        self._show()
        return verdict

    async def _write(self, *, taking: bool) -> None:
        seen = self._sighting
        previous = seen.lease if seen else None
        now = self._wall()
        lease = LeaderLease(
            holder=self.me,
            service=str(self.service),
            duration_seconds=self.timing.duration,
            acquired_at=now if taking or previous is None else previous.acquired_at,
            renewed_at=now,
            transitions=(previous.transitions + (previous.holder != self.me)) if previous else 0,
        )
        sent_at = self._clock()
        try:
            if seen is None or seen.revision == 0:
                revision = await self.leases.create(self.key, lease)
            else:
                revision = await self.leases.update(self.key, lease, seen.revision)
        except Conflict:
            # Someone else wrote it since we looked: theirs now. Stop at once; the next round looks again.
            if self.term is not None:
                log.warning("leader lease lost", extra={"lease": self.key, "holder": self.me})
            self.term = None
            return
        except (NatsError, TimeoutError) as exc:
            log.warning("leader lease not written", extra={"lease": self.key, "error": repr(exc)})
            return  # still leading until the renew deadline, if this was a renewal
        if self.term is None or taking:
            self.term = revision
            log.info("leader lease taken", extra={"lease": self.key, "holder": self.me, "term": revision})
        self._renewed_at = sent_at
        self._sighting = Sighting(lease, revision, sent_at)

    def _show(self) -> None:
        LEADER.labels(str(self.service)).set(1 if self.leading else 0)

    async def release(self) -> None:
        """Give the lease up (a clean stop): the other replica takes it at its next round, not a duration later."""
        term, seen = self.term, self._sighting
        self.term = None
        self._show()
        if term is None or seen is None or seen.lease is None or seen.lease.holder != self.me:
            return
        try:
            await self.leases.delete(self.key, revision=seen.revision)
        except (Conflict, NatsError, TimeoutError) as exc:
            log.warning("leader lease not released", extra={"lease": self.key, "error": repr(exc)})
        else:
            log.info("leader lease released", extra={"lease": self.key, "holder": self.me})

    async def lead(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Campaign until cancelled, running ``work()`` while this replica leads and cancelling it the moment it
        does not; a failure of the work ends this too. The lease is released when cancelled."""
        running: asyncio.Task[None] | None = None
        try:
            while True:
                await self.step()
                if running is not None and running.done():
                    _raise_unless_restartable(running)  # the work failed for good: so does the service
                    running = None
                if self.leading and running is None:
                    running = asyncio.create_task(work(), name=f"{self.service}-leader")
                elif not self.leading and running is not None:
                    log.warning("leading no more: stopping the work", extra={"lease": self.key, "holder": self.me})
                    await _stop(running)
                    running = None
                await asyncio.sleep(self.timing.retry)
        finally:
            try:
                if running is not None:
                    await _stop(running)
            finally:
                # In a task of its own: this one is being cancelled, and a bus call made in it would stop at once.
                await asyncio.shield(asyncio.create_task(self.release(), name=f"{self.service}-release"))


# What ends a leader's work without ending the service: a write refused by the fence, or the bus failing a call
# (a NATS cluster electing a new leader, a loaded server). The next round starts the work again if this replica
# still leads; anything else is a bug, and the service's failure.
RESTARTABLE = (Deposed, NatsError, TimeoutError)


def _raise_unless_restartable(ended: asyncio.Task[None]) -> None:
    """Raise what the work ended on, unless it was ``RESTARTABLE`` (then it is started again next round)."""
    error = None if ended.cancelled() else ended.exception()
    if error is None:
        return
    if isinstance(error, RESTARTABLE) or (
        isinstance(error, BaseExceptionGroup) and error.split(RESTARTABLE)[1] is None
    ):
        log.warning("the leader's work stopped; started again next round", extra={"error": repr(error)})
        return
    raise error


# A work still running this long after it was cancelled has lost the cancellation: on Python 3.11 an
# ``asyncio.wait_for`` whose awaited future completes as the cancellation arrives returns the result and drops it
# (nats-py's requests wait that way), and the work then runs on as if never cancelled. Told as an error, once, and
# cancelled again every period until it ends: the replica cannot lead again until it has, and must not run a second
# work beside it. (A 100 x 1,000 run lost its federation for ten minutes before the work was cancelled again.)
STOP_TOLD_AFTER_SECONDS = 10.0


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel the work and wait until it has ended, cancelling it again while it runs on; what it had failed on by
    then is raised only if it could not have been restarted."""
    task.cancel()
    _, running = await asyncio.wait({task}, timeout=STOP_TOLD_AFTER_SECONDS)
    if running:
        log.error(
            "the leader's work did not stop when cancelled; cancelling it again until it does",
            extra={"work": task.get_name(), "waited": STOP_TOLD_AFTER_SECONDS},
        )
    while running:
        task.cancel()
        _, running = await asyncio.wait({task}, timeout=STOP_TOLD_AFTER_SECONDS)
    if not task.cancelled():
        _raise_unless_restartable(task)
