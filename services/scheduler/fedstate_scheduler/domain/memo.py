"""Remembered work, because nodes are many and their content rarely changes between heartbeats.

Two memos, both invisible in results (``decide`` stays a pure function):

- ``ContentMemo`` remembers a value by *content*: a fingerprint compared with ``==`` (never
  a hash alone, never an identity), filed under a bucket such as a cluster's name. A
  heartbeat is a new snapshot object whose nodes are usually equal to the last one's, so
  their analysis is found again. Bounded: a few fingerprints per bucket, a fixed number of
  buckets, the least recently filled bucket goes first.
- ``SnapshotMemo`` remembers a value per snapshot *object*, held by a weak reference: a
  decision finds a snapshot's node table by identity, without comparing nodes. It never
  keeps an old heartbeat alive and never mistakes a reused ``id`` for a later object.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Generic, ParamSpec, Protocol, TypeVar

from fedstate.models.cluster import ClusterSnapshot

R = TypeVar("R")
F = TypeVar("F")
P = ParamSpec("P")

# Distinct node-level parameter sets remembered per snapshot; beyond that, start over.
MAX_PARAMS_PER_SNAPSHOT = 64
# Contents remembered per cluster: the latest heartbeat's and the one before (decisions in flight).
CONTENTS_PER_BUCKET = 2
MAX_BUCKETS = 4096


class _Clearable(Protocol):
    def clear(self) -> None: ...


class ContentMemo(Generic[F, R]):
    def __init__(self, per_bucket: int = CONTENTS_PER_BUCKET, buckets: int = MAX_BUCKETS) -> None:
        self.per_bucket = per_bucket
        self.buckets = buckets
        self._entries: dict[Hashable, list[tuple[F, R]]] = {}

    def find(self, bucket: Hashable, fingerprint: F) -> R | None:
        """The value filed under an equal fingerprint in ``bucket``, if any."""
        for known, value in self._entries.get(bucket, ()):
            if known == fingerprint:
                return value
        return None

    def latest(self, bucket: Hashable) -> R | None:
        """The value filed last in ``bucket``, if any."""
        entries = self._entries.get(bucket)
        return entries[0][1] if entries else None

    def file(self, bucket: Hashable, fingerprint: F, value: R) -> None:
        # Re-inserted at the end: the dict's order is the order buckets were last filled in.
        older = self._entries.pop(bucket, [])
        self._entries[bucket] = [(fingerprint, value), *older[: self.per_bucket - 1]]
        if len(self._entries) > self.buckets:
            del self._entries[next(iter(self._entries))]

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries.values())

    def clear(self) -> None:
        self._entries.clear()


class SnapshotMemo(Generic[R]):
    def __init__(self) -> None:
        self._slots: dict[int, tuple[weakref.ref[ClusterSnapshot], dict[Hashable, R]]] = {}

    def get(
        self, snapshot: ClusterSnapshot, params: Hashable, compute: Callable[P, R], *args: P.args, **kw: P.kwargs
    ) -> R:
        values = self._values(snapshot)
        if params in values:
            return values[params]
        if len(values) >= MAX_PARAMS_PER_SNAPSHOT:
            values.clear()
        value = values[params] = compute(*args, **kw)
        return value

    def _values(self, snapshot: ClusterSnapshot) -> dict[Hashable, R]:
        ident = id(snapshot)
        slot = self._slots.get(ident)
        if slot is not None and slot[0]() is snapshot:
            return slot[1]
        slots = self._slots

        def forget(ref: weakref.ref[ClusterSnapshot]) -> None:
            if slots.get(ident, (None,))[0] is ref:
                del slots[ident]

        values: dict[Hashable, R] = {}
        slots[ident] = (weakref.ref(snapshot, forget), values)
        return values

    def __len__(self) -> int:
        return len(self._slots)

    def clear(self) -> None:
        self._slots.clear()


_MEMOS: list[_Clearable] = []


def memo() -> SnapshotMemo[R]:
    """A new registered per-snapshot memo (``clear_all`` empties every one: for cold benchmarks)."""
    created: SnapshotMemo[R] = SnapshotMemo()
    _MEMOS.append(created)
    return created


def content_memo() -> ContentMemo[F, R]:
    """A new registered content memo."""
    created: ContentMemo[F, R] = ContentMemo()
    _MEMOS.append(created)
    return created


def clear_all() -> None:
    """Forget everything: the next decision sees every node for the first time."""
    for each in _MEMOS:
        each.clear()
