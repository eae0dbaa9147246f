"""The scheduler service: watches specs and clusters, writes Placements. The I/O edge around ``decide``.

- ``fs-spec`` (MultiCloudMongoDB keys only) → enqueue the spec key; the reconcile re-reads
  the buckets, decides when the placement is missing, stale (other generation) or
  unschedulable, and writes it with compare-and-set.
- ``fs-clusters`` and the collectors' leases → a local mirror of every snapshot, with
  ``observed_at`` at its collector's last heartbeat (``fedstate.clusters``: one watch each, the
  mirror whole before the first decision); a change or a heartbeat re-queues the unschedulable
  instances. A placement stays as it is while its clusters live; once a cluster that holds
  members has sent no heartbeat for ``failover_after`` (well past the failure threshold, so a
  slow heartbeat moves nothing), the instance is decided again with its placement as the
  current one: its members elsewhere stay, the lost cluster's move (failover). Unless most clusters
  holding members are that silent at once (``domain.disruption``): failover then waits, with a
  ``FailoverHeld`` event per instance and ``fedstate_scheduler_failover_held`` at 1.
  Each snapshot's nodes are interned as it arrives (``interned``): a heartbeat, which changes
  no node, shares the last view's node objects and verdicts, and decisions compare no nodes.
  Then, at most once a second, the heap is settled (``heap.HeapKeeper``) so the collector's
  full passes stop walking the snapshots inside decisions.
- In-flight members are promised in ``fs-reservations`` (one key per cluster, ``domain.reservations``) before
  the placement is written, each record with compare-and-set against the revision the decision read: when
  another reconcile, a second scheduler or one before a restart promised room there since, the write fails
  and the decision is made again with that promise deducted, so the same capacity is never handed out twice.
  A promise holds until the cluster's snapshot shows the instance's members running there, or its TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nats.errors import Error as NatsError
from pydantic import ValidationError

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.events import emit
from fedstate.bus.names import Elected, InstanceKey, Kind, parse_spec_key, spec_filter, tenant_filter
from fedstate.bus.objects import StoredObject
from fedstate.bus.store import Conflict, Entry, Outcome
from fedstate.clusters import Clusters
from fedstate.heap import HeapKeeper
from fedstate.leadership import Leadership, LeaderTiming
from fedstate.models.base import utcnow
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.multicloud import MultiCloudMongoDB
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate.models.reservation import ClusterReservations
from fedstate.reconcile import DONE, Controller, Result
from fedstate.scrape import Sample
from fedstate.service import Body
from fedstate.settings import ServiceSettings

from . import metrics
from .domain import PlacementRequest, Reservation, decide, interned
from .domain.cluster_metrics import cluster_samples
from .domain.disruption import DEFAULT_HOLD_FRACTION, Disruption, disruption
from .domain.reservations import DEFAULT_TTL, held_room, promised, pruned, without

log = logging.getLogger(__name__)

COMPONENT = "scheduler"
RECHECK_SECONDS = 0.5  # how often cluster changes may re-queue the unschedulable instances
LOST_CHECK_SECONDS = 2.0  # a cluster is lost by silence, so look for lost clusters without a change too
PROMISE_ATTEMPTS = 5  # decisions in a row whose promises lost a compare-and-set before the reconcile backs off


class Scheduler:
    def __init__(
        self,
        bus: Bus,
        *,
        failure_threshold: timedelta = timedelta(seconds=20),
        tenant: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        reservation_ttl: timedelta = DEFAULT_TTL,
        heap: HeapKeeper | None = None,
        failover_after: timedelta = timedelta(seconds=60),
        failover_hold_fraction: float = DEFAULT_HOLD_FRACTION,
    ) -> None:
        self.bus = bus
        self.heap = heap
        self.failure_threshold = failure_threshold
        self.failover_after = failover_after
        self.failover_hold_fraction = failover_hold_fraction
        self._held_told: set[str] = set()  # instances told their failover is held, in this disruption
        self.placed: dict[str, frozenset[str]] = {}  # spec key → clusters holding its members
        self.tenant = tenant
        self.clock = clock
        self.clusters: dict[str, ClusterSnapshot] = {}
        self.unschedulable: set[str] = set()
        self.reservation_ttl = reservation_ttl
        self.promises = KVCache(bus.reservations)
        self._room: dict[str, _Room] = {}  # cluster's record key → the room its promises hold (``_reserved``)
        # Every spec in memory, read by each pass without a request: the enqueue comes from the watch that brought
        # the value, so a pass never reads an older one. A direct get could: on a NATS cluster a follower may answer
        # it before it has the write the watch just delivered, and a spec read as missing was forgotten, never
        # placed (seen in CI, a spec applied 3 s after the stack started).
        self.specs = KVCache(
            bus.spec, spec_filter(tenant or "*", Kind.MULTICLOUD_MONGODB), on_change=self._spec_changed
        )
        # Every placement of the tenant in memory, kept current by the same kind of watch: a pass reads the current
        # placement, and writes its decision compare-and-set against it, without a round trip first (a get per
        # pass, and another in the write, were on every new instance's way to its members).
        self.placements = KVCache(bus.placements, tenant_filter(tenant) if tenant else ">")
        # One decision at a time here, from deciding to promising: reconciles of this process then never lose
        # a compare-and-set to each other (only to another scheduler), and never decide twice on one room.
        self._promising = asyncio.Lock()
        self.controller = Controller(COMPONENT, self.reconcile)
        self._clusters_changed = asyncio.Event()
        self._directory = Clusters(bus.clusters, bus.leases, on_change=self._mirror)

    async def run(self) -> None:
        """Mirror the clusters first (a cold cache would declare everything unschedulable), then watch."""
        await self.promises.start()
        await self.placements.start()
        await self._directory.start()
        self._settle(force=True)
        metrics.CLUSTERS.serve(self.samples)  # by heartbeat age too: rendered at every scrape
        try:
            await self.specs.start()
            await self._recheck()
        finally:
            metrics.CLUSTERS.serve(None)
            await self.controller.close()
            await self.specs.stop()
            await self._directory.stop()
            await self.placements.stop()
            await self.promises.stop()

    def _spec_changed(self, key: str, entry: Entry[StoredObject] | None) -> None:
        try:
            spec_key = parse_spec_key(key).spec_key
        except ValueError:
            log.warning("ignoring a key of unexpected shape", extra={"key": key})
            return
        self.controller.enqueue(spec_key, entry.headers if entry else None)

    def samples(self) -> Iterator[Sample]:
        """Each cluster as mirrored now, and the instances stranded in a lost cluster with nowhere to go."""
        now = self.clock()
        yield from cluster_samples(self.clusters.values(), self._reserved(now), now, self.failure_threshold)
        stranded = {key for key in self.unschedulable if self._lost(self.placed.get(key, frozenset()), now)}
        yield from metrics.failover_blocked_samples(stranded)

    def _mirror(self, name: str, snapshot: ClusterSnapshot | None, content_changed: bool) -> None:
        """A snapshot changed, or only its heartbeat moved (its nodes are then found interned at once)."""
        if snapshot is None:
            self.clusters.pop(name, None)
        else:
            self.clusters[name] = interned(snapshot)
            self._settle()
        self._clusters_changed.set()

    def _settle(self, *, force: bool = False) -> None:
        if self.heap is not None:
            self.heap.settle(force=force)

    async def _recheck(self) -> None:
        """Coalesce heartbeats: at most every RECHECK_SECONDS, retry what could not be placed and what
        has members in a lost cluster."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LOST_CHECK_SECONDS):
                    await self._clusters_changed.wait()
            self._clusters_changed.clear()
            now = self.clock()
            stranded = {key for key, clusters in self.placed.items() if self._lost(clusters, now)}
            if self._disruption(now) is not None:
                stranded -= self._held_told  # each is told once that it waits; nothing else is done for it
            for key in sorted(self.unschedulable | stranded):
                self.controller.enqueue(key)
            await self._prune()
            await asyncio.sleep(RECHECK_SECONDS)

    async def _prune(self) -> None:
        """Drop released and expired promises from their records (a record left empty is deleted), so no key
        outlives what it promised. They already count nothing: a lost write or a NATS hiccup waits for the
        next pass."""
        async with self._promising:
            now = self.clock()
            held = {entry.key: entry for entry in self.promises}
            changed = {
                name: kept
                for name, entry in held.items()
                if (kept := pruned(entry.value, self.clusters.get(name), now)) != entry.value
            }
            try:
                await self._write_promises(changed, held)
            except (Conflict, NatsError, TimeoutError) as exc:
                log.info("released promises not dropped yet", extra={"error": repr(exc)})

    def _disruption(self, now: datetime) -> Disruption | None:
        in_use = frozenset().union(*self.placed.values())
        heard = {name: s.observed_at if (s := self.clusters.get(name)) is not None else None for name in in_use}
        found = disruption(heard, now, self.failover_after, self.failover_hold_fraction)
        metrics.FAILOVER_HELD.set(found is not None)
        if found is None and self._held_told:
            log.warning("failover resumed: the clusters holding members are heard from again")
            self._held_told.clear()
        return found

    async def _hold(self, instance: InstanceKey, held: Disruption) -> None:
        if not self._held_told:
            log.warning(held.describe(self.failover_after), extra={"silent": held.silent, "inUse": held.in_use})
        if instance.spec_key not in self._held_told:
            self._held_told.add(instance.spec_key)
            await self._tell(instance, "FailoverHeld", held.describe(self.failover_after), warning=True)

    def _lost(self, clusters: Iterable[str], now: datetime) -> list[str]:
        """The clusters gone from the mirror or silent for longer than ``failover_after``."""
        return sorted(
            name
            for name in clusters
            if (snapshot := self.clusters.get(name)) is None or now - snapshot.observed_at > self.failover_after
        )

    async def reconcile(self, key: str) -> Result:
        """Load · skip what needs nothing · decide (pure) · write with compare-and-set · tell."""
        instance = parse_spec_key(key)
        entry = self.specs.get(key)
        if entry is None:
            return await self._forget(instance)
        if entry.value.deleting:
            return DONE
        try:
            wanted = entry.value.as_multicloud()
        except ValidationError as exc:
            await self._tell(instance, "FailedScheduling", f"invalid spec: {exc.error_count()} errors", warning=True)
            return DONE
        stored = self.placements.get(instance.placement_key)
        current = stored.value if stored else None
        lost = self._lost(_holding(current), self.clock())
        if lost and (held := self._disruption(self.clock())) is not None:
            await self._hold(instance, held)
            return DONE
        if (
            current is not None
            and current.schedulable
            and current.spec_generation == wanted.metadata.generation
            and not lost
        ):
            self.placed[key] = _holding(current)
            self._mark(key, schedulable=True)
            return DONE
        placement = await self._decide(key, wanted, current, current or await self._retained(instance, wanted))
        outcome = await self.placements.write_through(instance.placement_key, placement)
        self.placed[key] = _holding(placement if placement.schedulable else current)
        self._account(key, placement, outcome)
        if outcome is not Outcome.UNCHANGED:
            await self._announce(instance, placement, lost)
        return DONE

    async def _primary_cluster(self, key: str, wanted: MultiCloudMongoDB, sticky: Placement | None) -> str | None:
        """The cluster of the set's PRIMARY, as the instance's status last told it; read (one direct get) only for
        a scale-down to fewer members than the clusters holding them, the one change that empties a cluster of its
        own accord, which should not be the PRIMARY's."""
        if sticky is None or wanted.spec.replicaset >= len(sticky.replicas_by_cluster()):
            return None
        try:
            entry = await self.bus.status.get(key)
        except (ValueError, NatsError, TimeoutError) as exc:
            # Unreadable, or not ours to read (a users.conf from before the scheduler read statuses): scale down
            # as if nothing were known of the PRIMARY rather than not at all.
            log.warning("where the PRIMARY is was not read", extra={"key": key, "error": repr(exc)})
            return None
        status = entry.value.multicloud if entry is not None else None
        results = status.result if status is not None else []
        return next((r.cluster for r in results if "PRIMARY" in r.connect_addr_with_role.values()), None)

    async def _retained(self, instance: InstanceKey, wanted: MultiCloudMongoDB) -> Placement | None:
        """For an instance adopting retained volumes: where those volumes are, as if members were there,
        so the decision keeps members with their data unless a constraint forces a move."""
        if not wanted.spec.storage.adopt_retained_volumes:
            return None
        entry = await self.bus.retained.get(instance.retained_key)
        if entry is None:
            return None
        clusters = [
            ClusterAssignment(cluster=cluster, replicas=len(ordinals), voters=len(ordinals))
            for cluster, ordinals in sorted(entry.value.members.items())
        ]
        return Placement(spec_generation=0, mode=wanted.spec.scheduler.scheduler_mode, clusters=clusters)

    async def _decide(
        self, key: str, wanted: MultiCloudMongoDB, current: Placement | None, sticky: Placement | None
    ) -> Placement:
        """Decide, then promise the members it adds with compare-and-set against the records the decision
        deducted; a lost write means someone promised room since: decide again. ``sticky`` is where members
        are (``current``), or where the volumes they will adopt are."""
        async with self._promising:
            return await self._decide_and_promise(key, wanted, current, sticky)

    async def _decide_and_promise(
        self, key: str, wanted: MultiCloudMongoDB, current: Placement | None, sticky: Placement | None
    ) -> Placement:
        instance = parse_spec_key(key)
        primary_cluster = await self._primary_cluster(key, wanted, sticky)
        for _ in range(PROMISE_ATTEMPTS):
            now = self.clock()
            held = {entry.key: entry for entry in self.promises}
            request = PlacementRequest(
                generation=wanted.metadata.generation,
                spec=wanted.spec,
                clusters=tuple(self.clusters.values()),
                now=now,
                failure_threshold=self.failure_threshold,
                current=sticky,
                reservations=self._reserved(now),
                namespace=instance.namespace,
                primary_cluster=primary_cluster,
            )
            started = time.perf_counter()
            placement = decide(request)
            metrics.DECISION_SECONDS.observe(time.perf_counter() - started)
            owner = (key, instance.namespace, instance.name)
            records = {name: entry.value for name, entry in held.items()}
            changed = promised(
                owner, current, placement, request.shape, records, self.clusters, now, self.reservation_ttl
            )
            try:
                await self._write_promises(changed, held)
            except Conflict as lost:
                await self.promises.catch_up(lost.latest)
                continue
            metrics.RESERVATIONS.set(sum(r.members for r in self._reserved(now)))
            return placement
        raise Conflict(f"the promises of {key} kept losing to other decisions")

    def _reserved(self, now: datetime) -> tuple[Reservation, ...]:
        """``reservations`` of every record, each record's room worked out once per revision of it and of its
        cluster's snapshot: worked out again for every decision, it was a sixth of the scheduler's CPU while a fleet
        was placed, growing with the promises in flight."""
        found: list[Reservation] = []
        for entry in sorted(self.promises, key=lambda e: e.value.cluster):
            snapshot = self.clusters.get(entry.value.cluster)
            known = self._room.get(entry.key)
            if known is None or known.revision != entry.revision or known.snapshot is not snapshot:
                known = self._room[entry.key] = _Room.of(entry, snapshot)
            found.extend(known.held if now < known.first_expiry else known.holding(now))
        if len(self._room) > len(self.promises):  # a record deleted: forget its room
            kept = {entry.key for entry in self.promises}
            self._room = {key: room for key, room in self._room.items() if key in kept}
        return tuple(found)

    async def _write_promises(
        self, changed: dict[str, ClusterReservations], held: dict[str, Entry[ClusterReservations]]
    ) -> None:
        """Each changed record, compare-and-set against the revision read (an empty one is deleted); all at once,
        one round trip for the decision, not one per cluster. A failure other than a lost race is raised first.
        The cache holds what was written at once: the next decision here reads it without a round trip."""
        deleting = {cluster for cluster, record in changed.items() if cluster in held and not record.promises}

        async def write(cluster: str, record: ClusterReservations) -> None:
            entry = held.get(cluster)
            if cluster in deleting and entry is not None:
                await self.bus.reservations.delete(cluster, revision=entry.revision)
            else:
                await self.promises.write_at(cluster, record, None if entry is None else entry.revision)

        outcomes = await asyncio.gather(*(write(c, r) for c, r in changed.items()), return_exceptions=True)
        failures = sorted((o for o in outcomes if isinstance(o, BaseException)), key=lambda f: isinstance(f, Conflict))
        if failures:
            raise failures[0]
        if deleting:
            await self.promises.catch_up()  # a deletion is not held ahead of its echo: wait for it

    def _account(self, key: str, placement: Placement, outcome: Outcome) -> None:
        result = "scheduled" if placement.schedulable else "unschedulable"
        metrics.PLACEMENTS.labels(result, outcome.value).inc()
        self._mark(key, schedulable=placement.schedulable)
        log.info(
            f"placement {key} has been {outcome.value}",
            extra={"key": key, "schedulable": placement.schedulable, "summary": placement.summary},
        )

    def _mark(self, key: str, *, schedulable: bool) -> None:
        if schedulable:
            self.unschedulable.discard(key)
        else:
            self.unschedulable.add(key)
        metrics.UNSCHEDULABLE.set(len(self.unschedulable))

    async def _announce(self, instance: InstanceKey, placement: Placement, lost: list[str]) -> None:
        reason = "Scheduled" if placement.schedulable else "FailedScheduling"
        message = "; ".join([placement.summary, *placement.warnings])
        if lost:
            silent = int(self.failover_after.total_seconds())
            reason = "Failover" if placement.schedulable else "FailoverBlocked"
            message = f"{', '.join(lost)} sent no heartbeat for over {silent}s: {message}"
        await self._tell(instance, reason, message, warning=not placement.schedulable or bool(lost))

    async def _tell(self, instance: InstanceKey, reason: str, message: str, *, warning: bool = False) -> None:
        await emit(self.bus.js, instance, reason=reason, message=message, component=COMPONENT, warning=warning)

    async def _forget(self, instance: InstanceKey) -> Result:
        """The spec is gone: so is its placement, and every promise it made."""
        await self._withdraw(instance.spec_key)
        self.placed.pop(instance.spec_key, None)
        self._mark(instance.spec_key, schedulable=True)
        self._clusters_changed.set()  # its promised room is free again: retry what waits for room
        outcome = await self.bus.placements.delete(instance.placement_key)
        if outcome is Outcome.DELETED:
            log.info(f"placement {instance.spec_key} has been deleted", extra={"key": instance.spec_key})
        return DONE

    async def _withdraw(self, owner: str) -> None:
        """Drop every promise ``owner`` made, each record compare-and-set (a lost write reads and tries again)."""
        async with self._promising:
            await self._withdraw_unlocked(owner)

    async def _withdraw_unlocked(self, owner: str) -> None:
        for _ in range(PROMISE_ATTEMPTS):
            held = {entry.key: entry for entry in self.promises}
            changed = {
                name: without(entry.value, owner)
                for name, entry in held.items()
                if any(p.owner == owner for p in entry.value.promises)
            }
            try:
                await self._write_promises(changed, held)
                return
            except Conflict as lost:
                await self.promises.catch_up(lost.latest)
        raise Conflict(f"the promises of {owner} kept changing under us")


def make_body(settings: ServiceSettings, *, tenant: str | None = None, heap: HeapKeeper | None = None) -> Body:
    """The service body for ``fedstate.service.run``: a Scheduler while this replica holds the leader lease,
    until cancelled.

    ``heap`` is for a process of its own (``python -m fedstate_scheduler``): freezing the heap
    would also freeze whatever else shares the process.
    """

    async def body(bus: Bus, stack: AsyncExitStack) -> None:
        leadership = Leadership(
            bus.leaders,
            Elected.SCHEDULER,
            settings.replica_name or None,
            timing=LeaderTiming.of(settings),
            tenant=tenant,
        )

        async def schedule() -> None:
            """One replica schedules at a time, and only while it leads: a deposed one's writes are refused."""
            scheduler = Scheduler(
                bus.fenced(leadership.fence),
                failure_threshold=timedelta(seconds=settings.failure_threshold_seconds),
                failover_after=timedelta(seconds=settings.failover_after_seconds),
                failover_hold_fraction=settings.failover_hold_fraction,
                tenant=tenant,
                heap=heap,
            )
            await scheduler.run()

        await leadership.lead(schedule)

    return body


@dataclass(frozen=True)
class _Room:
    """The room one cluster's record of promises holds (``held_room``), as of a revision of it and a snapshot."""

    revision: int
    snapshot: ClusterSnapshot | None
    expiring: tuple[tuple[datetime, Reservation], ...]
    held: tuple[Reservation, ...]  # all of them, while none has expired
    first_expiry: datetime

    @classmethod
    def of(cls, entry: Entry[ClusterReservations], snapshot: ClusterSnapshot | None) -> _Room:
        expiring = held_room(entry.value, snapshot)
        first = min((expires_at for expires_at, _ in expiring), default=datetime.max.replace(tzinfo=UTC))
        return cls(entry.revision, snapshot, expiring, tuple(r for _, r in expiring), first)

    def holding(self, now: datetime) -> list[Reservation]:
        return [reservation for expires_at, reservation in self.expiring if now < expires_at]


def _holding(placement: Placement | None) -> frozenset[str]:
    """The clusters where a placement puts members (data or arbiter)."""
    if placement is None:
        return frozenset()
    return frozenset(a.cluster for a in placement.clusters if a.replicas or a.arbiter)
