"""Clusters with health and capacity, an instance's Placement and data plane (never its credentials), events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest

from fedstate.api import MULTICLOUD_MONGODB
from fedstate.bus import events
from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey, Kind
from fedstate.models.cluster import ClusterSnapshot, NodeResources
from fedstate.models.dataplane import Credentials, DataPlaneSpec, DataPlaneStatus, InstanceRef, MemberObservation
from fedstate.models.placement import ClusterAssignment, ClusterVerdict, Placement

GIB = 1024**3


def snapshot(name: str, now: datetime, age_seconds: float) -> ClusterSnapshot:
    node = NodeResources(
        name="n1",
        allocatable_cpu_millis=8000,
        allocatable_memory_bytes=32 * GIB,
        requested_cpu_millis=1000,
        requested_memory_bytes=2 * GIB,
    )
    return ClusterSnapshot(
        name=name,
        vip="127.0.7.1",
        nodes=[node, node.model_copy(update={"name": "n2"})],
        observed_at=now - timedelta(seconds=age_seconds),
    )


@pytest.fixture
async def cluster_names(bus: Bus) -> AsyncIterator[list[str]]:
    """Names of the snapshots a test writes; deleted afterwards, since fs-clusters is shared by every test."""
    names: list[str] = []
    yield names
    for name in names:
        await bus.clusters.delete(name)


async def test_clusters_are_ready_while_their_heartbeat_is_fresh(
    api: httpx.AsyncClient, bus: Bus, now: datetime, cluster_names: list[str]
) -> None:
    fresh, stale = f"fresh-{uuid.uuid4().hex[:6]}", f"stale-{uuid.uuid4().hex[:6]}"
    cluster_names += [fresh, stale]
    await bus.clusters.put(fresh, snapshot(fresh, now, 5))
    await bus.clusters.put(stale, snapshot(stale, now, 60))
    listed = {c["name"]: c for c in (await api.get("/clusters")).json()["items"]}
    assert ("Ready", "Unreachable") == (listed[fresh]["health"], listed[stale]["health"])
    one = (await api.get(f"/clusters/{fresh}")).json()
    assert (2, 16000, 14000, 60 * GIB) == (
        one["nodeCount"],
        one["capacity"]["allocatableCpuMillis"],
        one["capacity"]["freeCpuMillis"],
        one["capacity"]["freeMemoryBytes"],
    )
    assert 404 == (await api.get("/clusters/nowhere")).status_code


async def test_cordoned_nodes_are_counted_and_leave_the_free_capacity(
    api: httpx.AsyncClient, bus: Bus, now: datetime, cluster_names: list[str]
) -> None:
    name = f"cordoned-{uuid.uuid4().hex[:6]}"
    cluster_names.append(name)
    cordoned = snapshot(name, now, 1)
    cordoned.nodes.append(cordoned.nodes[0].model_copy(update={"name": "n3", "schedulable": False}))
    await bus.clusters.put(name, cordoned)
    one = (await api.get(f"/clusters/{name}")).json()
    assert (3, 2, 1, 14000) == (
        one["nodeCount"],
        one["readyNodes"],
        one["cordonedNodes"],
        one["capacity"]["freeCpuMillis"],
    )


async def test_the_placement_explains_itself(api: httpx.AsyncClient, bus: Bus, tenant: str) -> None:
    path = MULTICLOUD_MONGODB.item_path("default", "placed") + "/placement"
    assert 404 == (await api.get(path)).status_code
    placement = Placement(
        spec_generation=1,
        mode="Uniform",
        clusters=[ClusterAssignment(cluster="member-1", replicas=2, voters=2)],
        summary="1/2 clusters are available: 1 insufficient memory",
        verdicts=[ClusterVerdict(cluster="member-2", eligible=False, reasons=["insufficient memory"])],
    )
    await bus.placements.put(InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, "placed").placement_key, placement)
    body = (await api.get(path)).json()
    assert placement.summary == body["summary"]
    assert ["insufficient memory"] == body["verdicts"][0]["reasons"]


async def test_the_data_plane_view_never_carries_credentials(
    api: httpx.AsyncClient, bus: Bus, tenant: str, now: datetime
) -> None:
    key = InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, "secretive")
    secret = Credentials(
        key_file="KEYFILE-xyz", root_password="ROOT-xyz", cluster_admin_password="CA-xyz", cluster_monitor_password="CM"
    )
    spec = DataPlaneSpec(
        instance=InstanceRef(tenant=tenant, namespace="default", name="secretive"),
        generation=1,
        repl_set_name="secretive",
        credentials=secret,
    )
    status = DataPlaneStatus(
        cluster="member-1",
        members=[MemberObservation(ordinal=0, name="secretive-m0", address="127.0.1.1:30000")],
        observed_at=now,
    )
    await bus.dataplane.put(key.dataplane_key("member-1"), spec)
    await bus.observed.put(key.observed_key("member-1"), status)
    response = await api.get(MULTICLOUD_MONGODB.item_path("default", "secretive") + "/dataplane")
    item = response.json()["items"][0]
    assert ("member-1", "secretive", "127.0.1.1:30000") == (
        item["cluster"],
        item["spec"]["replSetName"],
        item["status"]["members"][0]["address"],
    )
    assert not any(word in response.text for word in ("credentials", "KEYFILE-xyz", "ROOT-xyz", "CA-xyz"))


async def test_events_are_filtered_by_instance_and_namespace(api: httpx.AsyncClient, bus: Bus, tenant: str) -> None:
    for namespace, name in (("default", "ev-a"), ("default", "ev-b"), ("other", "ev-c")):
        key = InstanceKey(tenant, namespace, Kind.MULTICLOUD_MONGODB, name)
        await events.emit(bus.js, key, reason="Tested", message=f"hello {name}", component="test")
    one = (await api.get("/events", params={"namespace": "default", "name": "ev-a"})).json()["items"]
    namespace = (await api.get("/events", params={"namespace": "default"})).json()["items"]
    assert ["hello ev-a"] == [e["message"] for e in one]
    assert {"hello ev-a", "hello ev-b"} == {e["message"] for e in namespace if e["instance"].startswith(tenant)}
