"""The member clusters as readers see them: each one's latest snapshot, as fresh as its collector's lease.

A collector publishes its ``ClusterSnapshot`` to ``fs-clusters`` only when it changes, and renews its
lease ``fs-leases.collector.<cluster>`` on a fixed period while it can see its cluster (as the agents
do). A cluster's last heartbeat is the later of the two, so readers are given the snapshot with
``observed_at`` moved to its collector's last renewal: health and heartbeat age are judged from
``observed_at`` as before, and a snapshot written with a recent ``observed_at`` and no lease (a
collector of an older release, a test) still counts.

Two caches, one watch each, for the life of the reader; nothing is listed per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fedstate.bus.cache import KVCache
from fedstate.bus.names import LeaseHolder, lease_filter, lease_key, parse_lease_key
from fedstate.bus.store import Entry, TypedKV
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.lease import Lease

COMPONENT = LeaseHolder.COLLECTOR


class Clusters:
    """Every cluster's snapshot with ``observed_at`` at its last heartbeat, from two watches.

    ``on_change(name, snapshot, content_changed)`` is called with the new view of a cluster (None once
    its snapshot is deleted); ``content_changed`` is False when only its heartbeat moved.
    """

    def __init__(
        self,
        snapshots: TypedKV[ClusterSnapshot],
        leases: TypedKV[Lease],
        on_change: Callable[[str, ClusterSnapshot | None, bool], None] | None = None,
    ) -> None:
        self._on_change = on_change
        self._views: dict[str, ClusterSnapshot] = {}
        self._snapshots = KVCache(snapshots, ">", on_change=self._snapshot_changed)
        self._leases = KVCache(leases, lease_filter(COMPONENT), on_change=self._lease_renewed)

    async def start(self) -> None:
        """Load every snapshot and lease; returns once both are whole."""
        await self._leases.start()
        await self._snapshots.start()

    async def catch_up(self) -> None:
        """Return once every snapshot and renewal written before the call is taken in."""
        await self._snapshots.catch_up()
        await self._leases.catch_up()

    async def stop(self) -> None:
        await self._snapshots.stop()
        await self._leases.stop()

    @property
    def ready(self) -> bool:
        return self._snapshots.ready and self._leases.ready

    def get(self, name: str) -> ClusterSnapshot | None:
        return self._views.get(name)

    def __iter__(self) -> Iterator[ClusterSnapshot]:
        return iter(list(self._views.values()))

    def __len__(self) -> int:
        return len(self._views)

    def _snapshot_changed(self, name: str, entry: Entry[ClusterSnapshot] | None) -> None:
        self._update(name, content_changed=True)

    def _lease_renewed(self, key: str, _: Entry[Lease] | None) -> None:
        try:
            name = parse_lease_key(key)[1]
        except ValueError:
            return
        if name in self._views:
            self._update(name, content_changed=False)

    def _update(self, name: str, *, content_changed: bool) -> None:
        entry = self._snapshots.get(name)
        if entry is None:
            self._views.pop(name, None)
            view = None
        else:
            view = self._views[name] = heartbeat_view(entry.value, self._lease(name))
        if self._on_change is not None:
            self._on_change(name, view, content_changed)

    def _lease(self, name: str) -> Lease | None:
        entry = self._leases.get(lease_key(COMPONENT, name))
        return entry.value if entry else None


def heartbeat_view(snapshot: ClusterSnapshot, lease: Lease | None) -> ClusterSnapshot:
    """The snapshot with ``observed_at`` at the later of its own time and its collector's last renewal."""
    if lease is None or lease.renewed_at <= snapshot.observed_at:
        return snapshot
    return snapshot.model_copy(update={"observed_at": lease.renewed_at})
