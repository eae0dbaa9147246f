"""The collector against simulated clusters and a real NATS server: the labels it publishes, and
label changes reaching the next snapshot and the scheduler."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from kubernetes.aio import client

from fedstate.bus.connection import Bus
from fedstate.bus.objects import StoredObject
from fedstate.models.base import ObjectMeta
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.placement import Placement
from fedstate.settings import ServiceSettings
from fedstate_collector.__main__ import PROPERTY_GROUP, PROPERTY_PLURAL, Collector
from fedstate_collector.labels import REGION_LABEL, ZONE_LABEL
from fedstate_scheduler.service import make_body

from .conftest import Sim

V1BETA1 = "v1beta1"


async def published(bus: Bus, collector: Collector) -> ClusterSnapshot:
    await collector.publish_once()
    entry = await bus.clusters.get(collector.settings.cluster)
    assert entry is not None
    return entry.value


async def told(collector: Collector, node: str, check: Callable[[dict[str, Any]], bool]) -> None:
    """Wait until the collector's node informer holds the change (a watch event is not instant)."""
    for _ in range(200):
        seen = collector.nodes.get("", node)
        if seen is not None and check(seen):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the collector was never told of the change of {node}")


async def set_property(collector: Collector, name: str, value: str) -> None:
    body = {"apiVersion": f"{PROPERTY_GROUP}/{V1BETA1}", "kind": "ClusterProperty", "metadata": {"name": name}}
    await collector.custom.create_cluster_custom_object(
        PROPERTY_GROUP, V1BETA1, PROPERTY_PLURAL, body | {"spec": {"value": value}}
    )


async def test_the_snapshot_carries_node_topology_and_cluster_property_labels(bus: Bus, sim: Sim) -> None:
    """A fresh simulated cluster is published with its region, zone, provider and tier labels."""
    async with AsyncExitStack() as stack:
        snapshot = await published(bus, await sim.collector(stack, bus, "a"))
    expected = {REGION_LABEL: "eu-west", ZONE_LABEL: "eu-west-1", "provider": "aws", "tier": "gold"}
    assert expected == snapshot.labels
    assert ("eu-west", "eu-west-1", "aws") == (snapshot.region, snapshot.zone, snapshot.provider)


async def test_configured_labels_win_over_discovered_ones(bus: Bus, sim: Sim) -> None:
    """``FEDSTATE_CLUSTER_LABELS`` replaces a discovered value and adds its own keys."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(stack, bus, "a", cluster_labels={"tier": "silver", "region": "eu"})
        snapshot = await published(bus, collector)
    assert ("silver", "eu", "eu-west") == (snapshot.labels["tier"], snapshot.region, snapshot.labels[REGION_LABEL])


async def test_changed_labels_reach_the_next_snapshot(bus: Bus, sim: Sim) -> None:
    """A ClusterProperty created, changed or deleted, or a relabelled node, shows in the next snapshot."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(stack, bus, "a")
        assert "gold" == (await published(bus, collector)).labels["tier"]
        await set_property(collector, "env", "prod")
        await collector.custom.patch_cluster_custom_object(
            PROPERTY_GROUP, V1BETA1, PROPERTY_PLURAL, "tier", {"spec": {"value": "bronze"}}
        )
        await collector.custom.delete_cluster_custom_object(PROPERTY_GROUP, V1BETA1, PROPERTY_PLURAL, "provider")
        await collector.core.patch_node(sim.name("a-node-1"), {"metadata": {"labels": {ZONE_LABEL: "eu-west-2"}}})
        await told(collector, sim.name("a-node-1"), lambda node: node["metadata"]["labels"][ZONE_LABEL] == "eu-west-2")
        snapshot = await published(bus, collector)
    assert {REGION_LABEL: "eu-west", "env": "prod", "tier": "bronze"} == snapshot.labels
    assert "" == snapshot.provider


async def test_a_cluster_without_the_cluster_property_api_still_reports(bus: Bus, sim: Sim) -> None:
    """With the ClusterProperty CRD gone (404), the snapshot is published with the node labels only."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(stack, bus, "b")
        extensions = client.ApiextensionsV1Api(collector.core.api_client)
        await extensions.delete_custom_resource_definition(f"{PROPERTY_PLURAL}.{PROPERTY_GROUP}")
        snapshot = await published(bus, collector)
    assert {REGION_LABEL: "us-east", ZONE_LABEL: "us-east-1"} == snapshot.labels


async def eventually(check: Callable[[], Awaitable[Placement | None]], attempts: int = 200) -> Placement:
    """The first placement ``check`` returns, polling every 50 ms."""
    for _ in range(attempts):
        if (found := await check()) is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such placement after {attempts} polls")


async def test_a_label_change_reaches_the_scheduler(bus: Bus, sim: Sim) -> None:
    """An instance spread by ``tier`` over two groups waits while one cluster has a tier, and is placed
    over both clusters once the other one gets a ClusterProperty ``tier``."""
    spec = {
        "replicaset": 2,
        "resource": {"requests": {"cpu": "1", "memory": "1Gi"}},
        "spreadConstraints": {"nodeSelect": {"pool": sim.prefix}, "spreadConstraints": [{"spreadByLabel": "tier", "minGroups": 2}]},
    }  # fmt: skip
    meta = ObjectMeta(name="spread", generation=1)
    obj = StoredObject(api_version="middleware.fedstate.io/v1alpha1", kind="MultiCloudMongoDB", tenant=sim.prefix, metadata=meta, spec=spec)  # fmt: skip

    async def placement(schedulable: bool) -> Placement | None:
        entry = await bus.placements.get(obj.key.placement_key)
        return entry.value if entry is not None and entry.value.schedulable is schedulable else None

    async with AsyncExitStack() as stack:
        a, b = await sim.collector(stack, bus, "a"), await sim.collector(stack, bus, "b")
        await a.publish_once()
        await b.publish_once()
        scheduler = asyncio.create_task(make_body(ServiceSettings(), tenant=sim.prefix)(bus, stack))
        try:
            await bus.spec.put(obj.key.spec_key, obj)
            waiting = await eventually(lambda: placement(schedulable=False))
            assert "spread by tier needs at least 2 groups; 1 eligible: gold (1 cluster)" in waiting.summary
            await set_property(b, "tier", "silver")
            await b.publish_once()
            placed = await eventually(lambda: placement(schedulable=True))
        finally:
            scheduler.cancel()
            await asyncio.gather(scheduler, return_exceptions=True)
    assert {sim.name("a"): 1, sim.name("b"): 1} == placed.replicas_by_cluster()
