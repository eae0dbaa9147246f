"""Remembered per-node filtering, because nodes are many and snapshots change only on heartbeats.

Filtering every node of every cluster is most of a decision's cost. A node-level
plugin's answer depends only on the cluster snapshot and the spec's node-level
parameters (nodeSelect, affinity, tolerations, member shape), so it is remembered per
snapshot *object* and those parameters. Entries live exactly as long as their snapshot:
a weak reference drops them when the snapshot is garbage, so the memo never keeps old
heartbeats alive and an ``id`` is never mistaken for a later object's. A new heartbeat
is a new object, hence a fresh computation: ``decide`` stays a pure function, the memo
only makes repeats cheap.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from fedstate.models.cluster import ClusterSnapshot

R = TypeVar("R")

# Distinct node-level parameter sets remembered per snapshot; beyond that, start over.
MAX_PARAMS_PER_SNAPSHOT = 64


class SnapshotMemo(Generic[R]):
    def __init__(self) -> None:
        self._slots: dict[int, tuple[weakref.ref[ClusterSnapshot], dict[Hashable, R]]] = {}

    def get(self, snapshot: ClusterSnapshot, params: Hashable, compute: Callable[[], R]) -> R:
        values = self._values(snapshot)
        if params in values:
            return values[params]
        if len(values) >= MAX_PARAMS_PER_SNAPSHOT:
            values.clear()
        value = values[params] = compute()
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


_MEMOS: list[SnapshotMemo[object]] = []


def memo() -> SnapshotMemo[R]:
    """A new registered memo (``clear_all`` empties every one: for cold benchmarks)."""
    created: SnapshotMemo[R] = SnapshotMemo()
    _MEMOS.append(created)  # type: ignore[arg-type]
    return created


def clear_all() -> None:
    for each in _MEMOS:
        each.clear()
