"""The member clusters as readers see them: each one's latest snapshot, as fresh as its cluster's leases.

A collector publishes its ``ClusterSnapshot`` to ``fs-clusters`` only when it changes, and renews its
lease ``fs-leases.collector.<cluster>`` once per look period while it can see its cluster. The cluster's
frequent heartbeat is its data-plane agent's lease ``fs-leases.dataplane-agent.<cluster>`` (renewed every
few seconds while the agent reaches its cluster's API): one frequent lease per member cluster, not two
(decision 0023). Readers are given the snapshot with ``observed_at`` moved to that heartbeat
(``heartbeat_view``): health and heartbeat age are judged from ``observed_at`` as before, and a snapshot
written with a recent ``observed_at`` and no lease (a test) still counts.

Three caches, one watch each, for the life of the reader; nothing is listed per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from fedstate.bus.cache import KVCache
from fedstate.bus.names import LeaseHolder, lease_filter, lease_key, parse_lease_key
from fedstate.bus.store import Entry, TypedKV
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.lease import Lease

COMPONENT = LeaseHolder.COLLECTOR
# An agent's renewals count as its cluster's heartbeat while its collector has missed no more than this many of
# its own (slower) renewals: a silent collector (stale capacity figures) still turns its cluster Unreachable.
COLLECTOR_MISSES = 2


class Clusters:
    """Every cluster's snapshot with ``observed_at`` at its last heartbeat, from three watches.

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
        self._agent_leases = KVCache(leases, lease_filter(LeaseHolder.AGENT), on_change=self._lease_renewed)

    async def start(self) -> None:
        """Load every snapshot and lease; returns once all are whole."""
        await self._leases.start()
        await self._agent_leases.start()
        await self._snapshots.start()

    async def catch_up(self) -> None:
        """Return once every snapshot and renewal written before the call is taken in."""
        await self._snapshots.catch_up()
        await self._leases.catch_up()
        await self._agent_leases.catch_up()

    async def stop(self) -> None:
        await self._snapshots.stop()
        await self._leases.stop()
        await self._agent_leases.stop()

    @property
    def ready(self) -> bool:
        return self._snapshots.ready and self._leases.ready and self._agent_leases.ready

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
            collector = self._leases.get(lease_key(COMPONENT, name))
            agent = self._agent_leases.get(lease_key(LeaseHolder.AGENT, name))
            view = heartbeat_view(entry.value, collector.value if collector else None, agent.value if agent else None)
            before = self._views.get(name)
            if not content_changed and before is not None and before.observed_at == view.observed_at:
                return  # a renewal that moves nothing (an agent's beyond what its silent collector vouches for)
            self._views[name] = view
        if self._on_change is not None:
            self._on_change(name, view, content_changed)


def heartbeat(collector: Lease, agent: Lease | None) -> datetime:
    """A cluster's last heartbeat: its agent's last renewal, but no later than its collector vouches for.

    Without an agent lease (a cluster without an agent, a test), its collector's own renewal, as before.
    With one, a collector's renewal alone is not a heartbeat: a cluster whose agent is silent cannot take
    members, whatever its collector sees. Both times are their writers' clocks, as every lease's are.
    """
    if agent is None:
        return collector.renewed_at
    vouched_until = collector.renewed_at + COLLECTOR_MISSES * timedelta(seconds=collector.renew_every_seconds)
    return min(agent.renewed_at, vouched_until)


def heartbeat_view(snapshot: ClusterSnapshot, collector: Lease | None, agent: Lease | None = None) -> ClusterSnapshot:
    """The snapshot with ``observed_at`` at the later of its own time and its cluster's last heartbeat."""
    if collector is None:
        return snapshot
    heard = heartbeat(collector, agent)
    if heard <= snapshot.observed_at:
        return snapshot
    return snapshot.model_copy(update={"observed_at": heard})
