"""The scheduler's in-flight promises, so decisions at once (in one scheduler, a restarted one, or two
replicas) never hand out the same room twice.

When a placement adds members to a cluster, the room for them is promised there (a ``Promise`` in that
cluster's ``ClusterReservations``, kept in ``fs-reservations``) until the cluster's snapshot shows the
instance's member pods running there (``ClusterSnapshot.members``), or until a TTL runs out (pods that never
start must not block capacity forever). Growth of the cluster's requests releases nothing: another tenant's
pods starting there say nothing about ours.
Pure functions: the service reads the records and snapshots, and writes what these return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.placement import Placement
from fedstate.models.reservation import ClusterReservations, Promise

from .request import MemberShape, Reservation

DEFAULT_TTL = timedelta(seconds=120)


def missing(promise: Promise, snapshot: ClusterSnapshot | None) -> int:
    """How many promised members the cluster's snapshot does not show running yet."""
    running = snapshot.members_of(promise.namespace, promise.name) if snapshot is not None else 0
    return max(0, min(promise.promised, promise.members - running))


def holds(promise: Promise, snapshot: ClusterSnapshot | None, now: datetime) -> bool:
    """Does ``promise`` still hold room: not expired, and some of its members not yet running?"""
    return now < promise.expires_at and missing(promise, snapshot) > 0


def pruned(record: ClusterReservations, snapshot: ClusterSnapshot | None, now: datetime) -> ClusterReservations:
    """``record`` without the promises released (members running) or expired."""
    kept = [p for p in record.promises if holds(p, snapshot, now)]
    return record.model_copy(update={"promises": kept})


def without(record: ClusterReservations, owner: str) -> ClusterReservations:
    return record.model_copy(update={"promises": [p for p in record.promises if p.owner != owner]})


def held_room(
    record: ClusterReservations, snapshot: ClusterSnapshot | None
) -> tuple[tuple[datetime, Reservation], ...]:
    """The room each promise of ``record`` holds while it has not expired, with that expiry, by owner: only the
    promises whose members the cluster's snapshot does not all show running yet."""
    found = []
    for promise in record.promises:
        members = missing(promise, snapshot)
        if members > 0:
            shape = MemberShape(promise.cpu_millis, promise.memory_bytes)
            found.append(
                (promise.expires_at, Reservation(record.cluster, members, shape, promise.owner, promise.namespace))
            )
    return tuple(sorted(found, key=lambda held: held[1].owner))


def reservations(
    records: Iterable[ClusterReservations], snapshots: Mapping[str, ClusterSnapshot], now: datetime
) -> tuple[Reservation, ...]:
    """Every promise still holding room, as the reservations a decision deducts, by cluster and owner."""
    return tuple(
        reservation
        for record in sorted(records, key=lambda r: r.cluster)
        for expires_at, reservation in held_room(record, snapshots.get(record.cluster))
        if now < expires_at
    )


def _members_of(placement: Placement | None) -> dict[str, int]:
    # An unschedulable placement still lists the members that keep running where they are.
    if placement is None:
        return {}
    return {a.cluster: a.replicas + a.arbiter for a in placement.clusters}


def promised(
    owner: tuple[str, str, str],
    previous: Placement | None,
    placement: Placement,
    shape: MemberShape,
    held: Mapping[str, ClusterReservations],
    snapshots: Mapping[str, ClusterSnapshot],
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> dict[str, ClusterReservations]:
    """The records that change when ``owner`` (spec key, namespace, name) goes from ``previous`` to
    ``placement``: its promise on each cluster covers the members it adds there (and what an older promise
    of its own still misses); released and expired promises of anyone are dropped on the way."""
    key, namespace, name = owner
    before, after = _members_of(previous), _members_of(placement)
    ours = {cluster for cluster, record in held.items() if any(p.owner == key for p in record.promises)}
    changed: dict[str, ClusterReservations] = {}
    for cluster in sorted(ours | set(after)):
        record = held.get(cluster) or ClusterReservations(cluster=cluster)
        snapshot = snapshots.get(cluster)
        live = pruned(record, snapshot, now)
        old = next((p for p in live.promises if p.owner == key), None)
        members = after.get(cluster, 0)
        added = max(0, members - before.get(cluster, 0))
        count = min(members, (old.promised if old else 0) + added)
        promises = without(live, key).promises
        if count > 0:
            expires = old.expires_at if old is not None and added == 0 else now + ttl
            promise = Promise(
                owner=key,
                namespace=namespace,
                name=name,
                members=members,
                promised=count,
                cpu_millis=shape.cpu_millis,
                memory_bytes=shape.memory_bytes,
                expires_at=expires,
            )
            if holds(promise, snapshot, now):
                promises = sorted([*promises, promise], key=lambda p: p.owner)
        updated = record.model_copy(update={"promises": promises})
        if updated != record:
            changed[cluster] = updated
    return changed
