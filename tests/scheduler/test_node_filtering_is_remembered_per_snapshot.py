"""The per-snapshot memo: repeats are remembered, a new snapshot is recomputed, old ones are let go."""

from __future__ import annotations

import gc

from scheduler_builders import cluster

from fedstate_scheduler.domain.memo import SnapshotMemo


def test_the_same_snapshot_and_parameters_compute_once() -> None:
    """A second ask with the same snapshot object and parameters reuses the answer."""
    memo: SnapshotMemo[str] = SnapshotMemo()
    calls: list[str] = []

    def compute(params: str) -> str:
        calls.append(params)
        return params

    snapshot = cluster("a")
    for _ in range(3):
        memo.get(snapshot, "p", lambda: compute("p"))
    memo.get(snapshot, "q", lambda: compute("q"))
    assert ["p", "q"] == calls


def test_an_equal_but_new_snapshot_is_computed_afresh() -> None:
    """A new heartbeat is a new object: nothing is taken from the previous one."""
    memo: SnapshotMemo[str] = SnapshotMemo()
    assert "first" == memo.get(cluster("a"), "p", lambda: "first")
    assert "second" == memo.get(cluster("a"), "p", lambda: "second")


def test_entries_go_when_their_snapshot_goes() -> None:
    """The memo holds no snapshot alive: a collected snapshot takes its entries with it."""
    memo: SnapshotMemo[int] = SnapshotMemo()
    snapshot = cluster("a")
    memo.get(snapshot, "p", lambda: 1)
    assert 1 == len(memo)
    del snapshot
    gc.collect()
    assert 0 == len(memo)
