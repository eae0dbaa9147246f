"""The scheduler's book of in-flight promises, so twenty instances at once do not overcommit.

When a placement is written, the members it adds to a cluster are promised there until
the cluster's snapshot shows them: its total requested CPU, memory and pods grow by the
promised amount since the promise (growth is credited to the oldest promises first), or
until a TTL runs out (pods that never start must not block capacity forever).
The members a released promise saw stay in the cluster's requests: the other promises
there then count their growth from after them, so a started member is credited to one
promise once, in this snapshot and every later one.
Pure bookkeeping: the service feeds it snapshots and the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.placement import Placement

from .request import MemberShape, Reservation

DEFAULT_TTL = timedelta(seconds=120)


@dataclass(frozen=True)
class Usage:
    """A cluster's total requests: what grows when promised members start."""

    cpu_millis: int
    memory_bytes: int
    pods: int

    @classmethod
    def of(cls, snapshot: ClusterSnapshot | None) -> Usage:
        nodes = snapshot.nodes if snapshot else []
        return cls(
            sum(n.requested_cpu_millis for n in nodes),
            sum(n.requested_memory_bytes for n in nodes),
            sum(n.pods for n in nodes),
        )

    def minus(self, other: Usage) -> Usage:
        return Usage(self.cpu_millis - other.cpu_millis, self.memory_bytes - other.memory_bytes, self.pods - other.pods)

    def members(self, shape: MemberShape) -> int:
        """How many members of ``shape`` this much usage accounts for."""
        counts = [self.pods]
        counts += [self.cpu_millis // shape.cpu_millis] if shape.cpu_millis else []
        counts += [self.memory_bytes // shape.memory_bytes] if shape.memory_bytes else []
        return max(0, min(counts))

    def plus_members(self, shape: MemberShape, members: int) -> Usage:
        return Usage(
            self.cpu_millis + shape.cpu_millis * members,
            self.memory_bytes + shape.memory_bytes * members,
            self.pods + members,
        )


@dataclass(frozen=True)
class Promise:
    owner: str
    cluster: str
    members: int
    shape: MemberShape
    baseline: Usage  # the cluster's usage when the promise was made
    made: datetime
    expires: datetime
    seen: int = 0  # of ``members``, how many the snapshots already count

    @property
    def unseen(self) -> int:
        return self.members - self.seen


def _members_of(placement: Placement | None) -> dict[str, int]:
    # An unschedulable placement still lists the members that keep running where they are.
    if placement is None:
        return {}
    return {a.cluster: a.replicas + a.arbiter for a in placement.clusters}


class ReservationBook:
    def __init__(self, ttl: timedelta = DEFAULT_TTL) -> None:
        self.ttl = ttl
        self._promises: dict[tuple[str, str], Promise] = {}

    def record(
        self,
        owner: str,
        previous: Placement | None,
        placement: Placement,
        shape: MemberShape,
        clusters: Mapping[str, ClusterSnapshot],
        now: datetime,
    ) -> None:
        """Promise the members ``placement`` adds over ``previous``; keep what is still unseen of older promises."""
        before, after = _members_of(previous), _members_of(placement)
        for key in [k for k in self._promises if k[0] == owner and k[1] not in after]:
            del self._promises[key]
        for cluster, members in after.items():
            old = self._promises.get((owner, cluster))
            added = max(0, members - before.get(cluster, 0))
            promised = min(members, (old.members if old else 0) + added)
            if promised <= 0:
                self._promises.pop((owner, cluster), None)
            elif old is not None and added == 0:
                self._promises[(owner, cluster)] = replace(old, members=promised, seen=min(old.seen, promised))
            else:
                baseline = old.baseline if old else self._baseline(cluster, clusters.get(cluster))
                made, seen = (old.made, min(old.seen, promised)) if old else (now, 0)
                self._promises[(owner, cluster)] = Promise(
                    owner, cluster, promised, shape, baseline, made, now + self.ttl, seen
                )

    def _baseline(self, cluster: str, snapshot: ClusterSnapshot | None) -> Usage:
        """What a new promise's growth counts from: the cluster's usage, less the members already credited to
        its older promises (each pass credits those to them again, before this one)."""
        usage = Usage.of(snapshot)
        for older in self._on(cluster):
            usage = usage.minus(Usage(0, 0, 0).plus_members(older.shape, older.seen))
        return usage

    def forget(self, owner: str) -> None:
        for key in [k for k in self._promises if k[0] == owner]:
            del self._promises[key]

    def observe(self, snapshot: ClusterSnapshot, now: datetime) -> None:
        """Credit the cluster's growth in requests to its promises, oldest first; drop those fully seen or expired."""
        usage = Usage.of(snapshot)
        credited = Usage(0, 0, 0)
        done: list[Promise] = []
        for promise in sorted(self._on(snapshot.name), key=lambda p: (p.made, p.owner)):
            grown = usage.minus(promise.baseline).minus(credited)
            seen = min(promise.members, grown.members(promise.shape))
            credited = credited.plus_members(promise.shape, seen)
            promise = self._promises[(promise.owner, promise.cluster)] = replace(promise, seen=seen)
            if seen >= promise.members or now >= promise.expires:
                done.append(promise)
        for promise in done:
            self._release(promise)

    def expire(self, now: datetime) -> None:
        for promise in [p for p in self._promises.values() if now >= p.expires]:
            self._release(promise)

    def _release(self, promise: Promise) -> None:
        """Drop ``promise``; the members it saw keep running, so they are no other promise's growth: the
        cluster's other promises count from a baseline that includes them (else the next snapshot would
        credit them again, and release a promise whose members never started)."""
        del self._promises[(promise.owner, promise.cluster)]
        for other in self._on(promise.cluster):
            baseline = other.baseline.plus_members(promise.shape, promise.seen)
            self._promises[(other.owner, other.cluster)] = replace(other, baseline=baseline)

    def active(self, now: datetime) -> tuple[Reservation, ...]:
        """Every live promise, as the reservations a decision deducts."""
        self.expire(now)
        return tuple(
            Reservation(p.cluster, p.unseen, p.shape, p.owner)
            for p in sorted(self._promises.values(), key=lambda p: (p.cluster, p.owner))
            if p.unseen > 0
        )

    def _on(self, cluster: str) -> list[Promise]:
        return [p for p in self._promises.values() if p.cluster == cluster]
