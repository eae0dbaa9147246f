"""Leases: each member cluster's services say "alive" on a fixed period; readers judge from that alone.

A report is written only when it changes, so its age says nothing about its writer (an idle, healthy
set would look dead). The holder renews ``fs-leases.<component>.<cluster>`` every few seconds; a
reader keeps every lease in memory from one watch and learns when a cluster goes silent or comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from nats.errors import Error as NatsError

from fedstate.bus.cache import KVCache
from fedstate.bus.names import LeaseHolder, lease_filter, lease_key, parse_lease_key
from fedstate.bus.store import Entry, TypedKV
from fedstate.models.base import utcnow
from fedstate.models.lease import Lease

log = logging.getLogger(__name__)


async def renew_lease(
    leases: TypedKV[Lease],
    component: LeaseHolder,
    cluster: str,
    every_seconds: float,
    can_work: Callable[[], Awaitable[bool]] | None = None,
    public_key: tuple[str, str] = ("", ""),
    renew_now: asyncio.Event | None = None,
) -> None:
    """Renew this service's lease on a fixed period, whatever else it is doing, until cancelled.

    With ``can_work``, only while it answers True: like a kubelet's node lease, which is renewed only
    while the kubelet reaches its API server, a lease says "alive and able to see my cluster".
    ``public_key`` (key, fingerprint): what the holder publishes for others to seal to (data-plane agents).
    Setting ``renew_now`` renews at once (a holder with a long period that can work again after it could not).
    """
    key = lease_key(component, cluster)
    published, fingerprint = public_key
    while True:
        if can_work is None or await can_work():
            lease = Lease(
                holder=cluster,
                component=component,
                renewed_at=utcnow(),
                renew_every_seconds=every_seconds,
                public_key=published,
                fingerprint=fingerprint,
            )
            try:
                await leases.put(key, lease)
            except (NatsError, TimeoutError) as exc:
                log.warning("lease not renewed", extra={"lease": key, "error": repr(exc)})
        else:
            log.warning("lease not renewed: cannot work", extra={"lease": key})
        wait = until_next_beat(time.time(), every_seconds)
        if renew_now is None:
            await asyncio.sleep(wait)
            continue
        renew_now.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):  # not ``wait_for``: on 3.11 it can swallow a cancellation
                await renew_now.wait()


def until_next_beat(wall_clock: float, every_seconds: float) -> float:
    """Seconds until the next renewal: at the next multiple of the period on the wall clock, never later.

    On a fixed cadence: a probe that took most of a period (a loaded API server) does not push the next
    renewal a whole period further, or two slow probes would add up to the failure threshold. On the same
    beats for every holder: the leases of all the clusters a process (or a synchronised host) serves are
    renewed together, so their readers, the NATS server and the holders' own event loops take them in
    batches rather than one wakeup each."""
    return every_seconds - wall_clock % every_seconds


def silence_of(lease: Lease | None, component: str, cluster: str, now: datetime, threshold: timedelta) -> str | None:
    """Why a cluster's ``component`` counts as silent, or None while its lease is fresh."""
    if lease is None:
        return f"the {component} of {cluster} has never renewed its lease"
    if lease.alive(now, threshold):
        return None
    since = lease.renewed_at.isoformat(timespec="seconds")
    return f"no heartbeat from the {component} of {cluster} since {since} (failure threshold {threshold.total_seconds():g} s)"


class Liveness:
    """Which clusters' ``component`` is alive, from one watch on their leases.

    ``on_transition(cluster, alive)`` is called when a cluster goes silent or comes back. A renewal is judged
    alone (every lease judged on every renewal made the federation's cost grow with the square of the fleet);
    between renewals nothing runs but one timer, set to the earliest moment a lease can expire, when every
    lease is judged.
    """

    def __init__(
        self,
        leases: TypedKV[Lease],
        component: LeaseHolder,
        failure_threshold: timedelta,
        on_transition: Callable[[str, bool], None],
        clock: Callable[[], datetime] = utcnow,
        on_new_public_key: Callable[[str], None] = lambda _cluster: None,
    ) -> None:
        self.component = component
        self.threshold = failure_threshold
        self._on_transition = on_transition
        self._clock = clock
        self._wake = asyncio.Event()
        self._renewed: set[str] = set()  # keys changed since they were last judged
        self._next_expiry: datetime | None = None  # never later than the earliest expiry of a live lease
        self._cache = KVCache(leases, lease_filter(component), on_change=self._changed)
        self._alive: dict[str, bool] = {}
        self._on_new_public_key = on_new_public_key
        self._public_keys: dict[str, str] = {}

    async def start(self) -> None:
        """Load every lease; judge the clusters once without telling (nothing changed yet)."""
        await self._cache.start()
        self._judge_all(tell=False)

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                # Not ``wait_for``: on 3.11 it returns when the event is set in the loop iteration that cancels this
                # task, and the cancellation is lost. A lease renewed every few milliseconds made that likely: a
                # federation deposed under load never stopped its work, and so never led again.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._until_next_expiry()):
                        await self._wake.wait()
                self._judge_due()
        finally:
            await self._cache.stop()

    def _changed(self, key: str, _entry: Entry[Lease] | None) -> None:
        self._renewed.add(key)
        self._wake.set()

    def _lease(self, cluster: str) -> Lease | None:
        entry = self._cache.get(lease_key(self.component, cluster))
        return entry.value if entry else None

    def public_key(self, cluster: str) -> str | None:
        """The sealing public key ``cluster``'s service last published, if any."""
        lease = self._lease(cluster)
        return lease.public_key if lease is not None and lease.public_key else None

    def silence(self, cluster: str) -> str | None:
        """Why ``cluster``'s service counts as silent, or None while it renews its lease."""
        return silence_of(self._lease(cluster), self.component, cluster, self._clock(), self.threshold)

    def standing(self) -> frozenset[tuple[str, bool]]:
        """Every cluster with a lease and whether it is alive now: ``silence`` of them all at once (a cluster with
        none counts as silent), for a reader that derived something from it to tell whether it still holds."""
        now = self._clock()
        return frozenset((_cluster_of(entry), entry.value.alive(now, self.threshold)) for entry in self._cache)

    def _judge_due(self) -> None:
        """Every lease once the earliest can have expired; otherwise only the leases renewed since the last look."""
        now = self._clock()
        if self._next_expiry is not None and now > self._next_expiry:
            self._judge_all(tell=True)
            return
        renewed, self._renewed = self._renewed, set()
        for key in renewed:
            entry = self._cache.get(key)
            if entry is not None:  # a deleted lease leaves its cluster as it was last judged
                self._keep_earliest(self._judge(entry, now, tell=True))

    def _judge_all(self, *, tell: bool) -> None:
        now = self._clock()
        self._renewed.clear()
        self._next_expiry = None
        for entry in self._cache:
            self._keep_earliest(self._judge(entry, now, tell=tell))

    def _judge(self, entry: Entry[Lease], now: datetime, *, tell: bool) -> datetime | None:
        """Tell what changed about one cluster; when its lease expires, if it is alive."""
        cluster = _cluster_of(entry)
        alive = entry.value.alive(now, self.threshold)
        if self._public_keys.get(cluster, entry.value.public_key) != entry.value.public_key and tell:
            self._on_new_public_key(cluster)
        self._public_keys[cluster] = entry.value.public_key
        if self._alive.get(cluster) != alive:
            self._alive[cluster] = alive
            if tell:
                self._on_transition(cluster, alive)
        return entry.value.renewed_at + self.threshold if alive else None

    def _keep_earliest(self, expiry: datetime | None) -> None:
        if expiry is not None and (self._next_expiry is None or expiry < self._next_expiry):
            self._next_expiry = expiry

    def _until_next_expiry(self) -> float | None:
        if self._next_expiry is None:
            return None
        return max(0.0, (self._next_expiry - self._clock()).total_seconds()) + 0.05


def _cluster_of(entry: Entry[Lease]) -> str:
    return parse_lease_key(entry.key)[1]
