"""The collector against simulated clusters and a real NATS server: the labels it publishes, label changes
reaching the next snapshot and the scheduler as they happen, and the ClusterProperty API installed late, in an
older version, or refused."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.aio import client

from fedstate.bus.connection import Bus
from fedstate.bus.objects import StoredObject
from fedstate.cli.memberaccess import MEMBER_MANIFEST, grant_member_access
from fedstate.models.base import ObjectMeta
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.placement import Placement
from fedstate.settings import ServiceSettings
from fedstate_collector.__main__ import Collector
from fedstate_collector.labels import REGION_LABEL, ZONE_LABEL
from fedstate_collector.properties import CRD_NAME, GROUP, PLURAL
from fedstate_scheduler.service import make_body

from .conftest import Sim

V1BETA1, V1ALPHA1 = "v1beta1", "v1alpha1"


async def published(bus: Bus, collector: Collector) -> ClusterSnapshot:
    await collector.publish_once()
    entry = await bus.clusters.get(collector.settings.cluster)
    assert entry is not None
    return entry.value


async def set_property(custom: client.CustomObjectsApi, name: str, value: str, version: str = V1BETA1) -> None:
    body = {"apiVersion": f"{GROUP}/{version}", "kind": "ClusterProperty", "metadata": {"name": name}}
    await custom.create_cluster_custom_object(GROUP, version, PLURAL, body | {"spec": {"value": value}})


def properties_api(collector: Collector) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(collector.core.api_client)


def extensions_api(collector: Collector) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(collector.core.api_client)


@asynccontextmanager
async def running(collector: Collector) -> AsyncIterator[None]:
    """The collector's own loop (``run``): informers, looks and lease."""
    task = asyncio.create_task(collector.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until_labels(
    bus: Bus, collector: Collector, check: Callable[[dict[str, str]], bool], attempts: int = 200
) -> ClusterSnapshot:
    """The first snapshot in ``fs-clusters`` whose labels pass ``check``, polling every 50 ms."""
    for _ in range(attempts):
        entry = await bus.clusters.get(collector.settings.cluster)
        if entry is not None and check(entry.value.labels):
            return entry.value
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such snapshot of {collector.settings.cluster} after {attempts} polls")


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


async def test_changed_labels_reach_the_next_snapshot_without_a_resync(bus: Bus, sim: Sim) -> None:
    """A ClusterProperty created, changed or deleted, or a relabelled node, is published by the running
    collector as it happens: its resync is a minute away, so only the informers can have told it."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(stack, bus, "a", informing=False)
        async with running(collector):
            await until_labels(bus, collector, lambda labels: labels.get("tier") == "gold")
            custom = properties_api(collector)
            await set_property(custom, "env", "prod")
            await custom.patch_cluster_custom_object(GROUP, V1BETA1, PLURAL, "tier", {"spec": {"value": "bronze"}})
            await custom.delete_cluster_custom_object(GROUP, V1BETA1, PLURAL, "provider")
            expected = {REGION_LABEL: "eu-west", ZONE_LABEL: "eu-west-1", "env": "prod", "tier": "bronze"}
            await until_labels(bus, collector, lambda labels: labels == expected)
            await collector.core.patch_node(sim.name("a-node-1"), {"metadata": {"labels": {ZONE_LABEL: "eu-west-2"}}})
            del expected[ZONE_LABEL]  # the nodes no longer agree on one zone
            snapshot = await until_labels(bus, collector, lambda labels: labels == expected)
    assert "" == snapshot.provider


async def test_a_cluster_without_the_cluster_property_api_still_reports(bus: Bus, sim: Sim) -> None:
    """With the ClusterProperty CRD gone (404), the snapshot is published with the node labels only."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(stack, bus, "b")
        await extensions_api(collector).delete_custom_resource_definition(CRD_NAME)
        async with running(collector):
            await until_labels(
                bus, collector, lambda labels: labels == {REGION_LABEL: "us-east", ZONE_LABEL: "us-east-1"}
            )


async def test_a_cluster_property_api_installed_later_in_its_older_version_is_followed_at_once(
    bus: Bus, sim: Sim
) -> None:
    """The CRD removed, then installed again serving v1alpha1 only (an older about-api release): the running
    collector follows that version at once, and its properties become labels."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(stack, bus, "a", informing=False)
        extensions, custom = extensions_api(collector), properties_api(collector)
        async with running(collector):
            await until_labels(bus, collector, lambda labels: labels.get("tier") == "gold")
            await extensions.delete_custom_resource_definition(CRD_NAME)
            await until_labels(bus, collector, lambda labels: "tier" not in labels)
            await until_gone(extensions)
            await extensions.create_custom_resource_definition(older_definition())  # type: ignore[arg-type]
            await set_property(custom, "tier", "silver", version=V1ALPHA1)
            snapshot = await until_labels(bus, collector, lambda labels: labels.get("tier") == "silver")
    assert V1ALPHA1 == collector.properties.version
    assert "aws" not in snapshot.labels.values()  # the provider property went with the first CRD


async def test_a_collector_refused_the_cluster_properties_warns_once_and_reports_node_labels(
    bus: Bus, sim: Sim, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Run with the member role of deploy/k8s/member-cluster.yaml less its ClusterProperty rule: the lists are
    refused (403), one warning says so, and the snapshot still comes, with the nodes' labels."""
    manifest = tmp_path / "member-without-properties.yaml"
    documents = [without_property_rule(d) for d in yaml.safe_load_all(MEMBER_MANIFEST.read_text()) if d]
    manifest.write_text(yaml.safe_dump_all(documents))
    cluster = sim.name("a")
    kubeconfig = await asyncio.to_thread(
        grant_member_access, sim.kubeconfig, [cluster], tmp_path / "member-kubeconfig", manifest
    )
    async with AsyncExitStack() as stack:
        collector = await sim.collector(stack, bus, "a", informing=False, kubeconfig=kubeconfig)
        async with running(collector):
            snapshot = await until_labels(bus, collector, lambda labels: REGION_LABEL in labels)
            await asyncio.sleep(2.5)  # the refused informer's retries after 1 s and 2 s: not warned again
    assert {REGION_LABEL: "eu-west", ZONE_LABEL: "eu-west-1"} == snapshot.labels
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [f"may not read {CRD_NAME}/{V1BETA1}; cluster labels come from nodes and settings"] == warnings


def without_property_rule(document: dict[str, Any]) -> dict[str, Any]:
    if document.get("kind") != "ClusterRole":
        return document
    rules = [rule for rule in document["rules"] if GROUP not in rule["apiGroups"]]
    return document | {"rules": rules}


def older_definition() -> dict[str, Any]:
    """The ClusterProperty CRD as an about-api release before v1beta1 shipped it: v1alpha1 only."""
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"value": {"type": "string"}}}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "names": {"kind": "ClusterProperty", "plural": PLURAL, "singular": "clusterproperty"},
            "scope": "Cluster",
            "versions": [{"name": V1ALPHA1, "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }


async def until_gone(extensions: client.ApiextensionsV1Api) -> None:
    """Until the CRD's cleanup (its objects deleted first) has let it go."""
    for _ in range(200):
        found = await extensions.list_custom_resource_definition(field_selector=f"metadata.name={CRD_NAME}")
        if not found.items:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{CRD_NAME} was never deleted")


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
        a, b = (
            await sim.collector(stack, bus, "a", informing=False),
            await sim.collector(stack, bus, "b", informing=False),
        )
        await stack.enter_async_context(running(a))
        await stack.enter_async_context(running(b))
        await until_labels(bus, a, lambda labels: "tier" in labels)
        await until_labels(bus, b, lambda labels: REGION_LABEL in labels)
        scheduler = asyncio.create_task(make_body(ServiceSettings(), tenant=sim.prefix)(bus, stack))
        try:
            await bus.spec.put(obj.key.spec_key, obj)
            waiting = await eventually(lambda: placement(schedulable=False))
            assert "spread by tier needs at least 2 groups; 1 eligible: gold (1 cluster)" in waiting.summary
            await set_property(properties_api(b), "tier", "silver")
            placed = await eventually(lambda: placement(schedulable=True))
        finally:
            scheduler.cancel()
            await asyncio.gather(scheduler, return_exceptions=True)
    assert {sim.name("a"): 1, sim.name("b"): 1} == placed.replicas_by_cluster()


async def test_a_move_to_the_newer_version_keeps_the_labels_meanwhile(bus: Bus, sim: Sim) -> None:
    """The CRD served in v1alpha1 alone, then upgraded to serve v1beta1 too: the collector moves to v1beta1, and
    while the new informer has not listed yet it answers with the properties it held, never with none."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(stack, bus, "a", informing=False)
        extensions, custom = extensions_api(collector), properties_api(collector)
        async with running(collector):
            await extensions.delete_custom_resource_definition(CRD_NAME)
            await until_gone(extensions)
            older = older_definition()
            await extensions.create_custom_resource_definition(older)  # type: ignore[arg-type]
            await set_property(custom, "tier", "silver", version=V1ALPHA1)
            await until_labels(bus, collector, lambda labels: labels.get("tier") == "silver")
            installed = (await extensions.read_custom_resource_definition(CRD_NAME)).metadata
            assert installed is not None
            upgraded = older | {"metadata": {"name": CRD_NAME, "resourceVersion": installed.resource_version}}
            upgraded["spec"]["versions"] = [
                {**older["spec"]["versions"][0], "storage": False},
                {**older["spec"]["versions"][0], "name": V1BETA1},
            ]
            await extensions.replace_custom_resource_definition(CRD_NAME, upgraded)  # type: ignore[arg-type]
            seen_while_moving: list[list[str]] = []
            # Every turn of the loop, not an event: the look must come before the new informer's first list.
            while collector.properties.version != V1BETA1:  # noqa: ASYNC110
                await asyncio.sleep(0)
            seen_while_moving.append([p["metadata"]["name"] for p in collector.properties.objects()])
            snapshot = await until_labels(bus, collector, lambda labels: labels.get("tier") == "silver")
    assert [["tier"]] == seen_while_moving
    assert "silver" == snapshot.labels["tier"]
