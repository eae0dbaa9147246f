"""A member cluster renews one frequent lease, its agent's; its collector's, renewed once per look period, says
its snapshot is still looked after (decision 0023). What the scheduler and the gateway judge a cluster by."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from fedstate.bus.connection import Bus
from fedstate.bus.names import LeaseHolder, lease_key
from fedstate.clusters import Clusters
from fedstate.models.cluster import ClusterHealth, ClusterSnapshot
from fedstate.models.lease import Lease

THRESHOLD = timedelta(seconds=20)
LOOK_PERIOD = 60.0  # the collector's lease period (FEDSTATE_RESYNC_SECONDS)


async def until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not check():  # noqa: ASYNC110 - polling a plain predicate
            await asyncio.sleep(0.01)


class Cluster:
    def __init__(self, bus: Bus, clusters: Clusters, name: str) -> None:
        self.bus, self.clusters, self.name = bus, clusters, name

    async def renewed(self, holder: LeaseHolder, seconds_ago: float, every: float) -> None:
        at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
        lease = Lease(holder=self.name, component=str(holder), renewed_at=at, renew_every_seconds=every)
        await self.bus.leases.put(lease_key(holder, self.name), lease)
        await self.clusters.catch_up()

    def health(self) -> ClusterHealth:
        view = self.clusters.get(self.name)
        assert view is not None
        return view.health(datetime.now(UTC), THRESHOLD)

    def silent_for(self) -> float:
        view = self.clusters.get(self.name)
        assert view is not None
        return (datetime.now(UTC) - view.observed_at).total_seconds()


@pytest.fixture
async def cluster(bus: Bus) -> AsyncIterator[Cluster]:
    name = f"beat-{uuid.uuid4().hex[:6]}"
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    await bus.clusters.put(name, ClusterSnapshot(name=name, vip="127.0.9.1", observed_at=long_ago))
    clusters = Clusters(bus.clusters, bus.leases)
    await clusters.start()
    await until(lambda: clusters.get(name) is not None)
    yield Cluster(bus, clusters, name)
    await clusters.stop()
    await bus.clusters.delete(name)
    for holder in LeaseHolder:
        await bus.leases.delete(lease_key(holder, name))


async def test_the_agent_s_renewals_keep_the_cluster_ready_between_its_collector_s(cluster: Cluster) -> None:
    await cluster.renewed(LeaseHolder.COLLECTOR, seconds_ago=50, every=LOOK_PERIOD)
    await cluster.renewed(LeaseHolder.AGENT, seconds_ago=1, every=5)
    assert cluster.health() is ClusterHealth.READY
    assert cluster.silent_for() < 10  # the agent's renewal, not the collector's


async def test_a_cluster_whose_agent_is_silent_is_unreachable_though_its_collector_renews(cluster: Cluster) -> None:
    await cluster.renewed(LeaseHolder.AGENT, seconds_ago=30, every=5)
    await cluster.renewed(LeaseHolder.COLLECTOR, seconds_ago=0, every=LOOK_PERIOD)
    assert cluster.health() is ClusterHealth.UNREACHABLE


async def test_a_cluster_whose_collector_is_silent_turns_unreachable_though_its_agent_renews(cluster: Cluster) -> None:
    """Two missed looks and the threshold: the capacity the scheduler would place by is no longer looked after."""
    await cluster.renewed(LeaseHolder.AGENT, seconds_ago=0, every=5)
    await cluster.renewed(LeaseHolder.COLLECTOR, seconds_ago=2 * LOOK_PERIOD - 5, every=LOOK_PERIOD)
    assert cluster.health() is ClusterHealth.READY
    await cluster.renewed(LeaseHolder.COLLECTOR, seconds_ago=2 * LOOK_PERIOD + 30, every=LOOK_PERIOD)
    await cluster.renewed(LeaseHolder.AGENT, seconds_ago=0, every=5)
    assert cluster.health() is ClusterHealth.UNREACHABLE


async def test_without_an_agent_lease_the_collector_s_renewal_is_the_heartbeat(cluster: Cluster) -> None:
    """A collector of a cluster with no agent (and the collectors of an older release): judged as before."""
    await cluster.renewed(LeaseHolder.COLLECTOR, seconds_ago=1, every=5)
    assert cluster.health() is ClusterHealth.READY
    await cluster.renewed(LeaseHolder.COLLECTOR, seconds_ago=30, every=5)
    assert cluster.health() is ClusterHealth.UNREACHABLE
