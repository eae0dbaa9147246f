"""Fault state of the simulated network: which clusters are down and which are partitioned.

Reachability is decided per pair of clusters and cached until the next fault
change, so a heartbeat between two members costs one dictionary lookup.
Partitions cut replica-set traffic only; client connections are governed by
whether a cluster is down (its listeners are closed).
"""

from __future__ import annotations


class Network:
    """Down clusters and partitions between groups of clusters."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.partitions: list[tuple[frozenset[str], frozenset[str]]] = []
        self.epoch = 0  # bumped on every change, for observers that cache
        self._cache: dict[tuple[str, str], bool] = {}

    def set_down(self, cluster: str, down: bool) -> None:
        if down:
            self.down.add(cluster)
        else:
            self.down.discard(cluster)
        self._changed()

    def is_down(self, cluster: str) -> bool:
        return cluster in self.down

    def partition(self, side_a: set[str], side_b: set[str]) -> None:
        overlap = side_a & side_b
        if overlap:
            raise ValueError(f"clusters {sorted(overlap)} cannot be on both sides of a partition")
        self.partitions.append((frozenset(side_a), frozenset(side_b)))
        self._changed()

    def heal(self) -> None:
        self.partitions.clear()
        self._changed()

    def reachable(self, a: str, b: str) -> bool:
        """Can a member in cluster ``a`` exchange heartbeats with one in cluster ``b``?"""
        key = (a, b)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._compute(a, b)
        return cached

    def _compute(self, a: str, b: str) -> bool:
        if a in self.down or b in self.down:
            return False
        return not any((a in x and b in y) or (a in y and b in x) for x, y in self.partitions)

    def _changed(self) -> None:
        self.epoch += 1
        self._cache.clear()
