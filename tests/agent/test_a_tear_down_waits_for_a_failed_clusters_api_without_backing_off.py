"""Fencing a failed cluster's stale members (issue 12, item 4): their data-plane spec is deleted while the
cluster is down, so the agent's tear-down meets an API that refuses connections. It asks again every second
(not after a backoff grown to 30 s) and removes them once the cluster is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes.aio import client

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey, Kind
from fedstate.reconcile import DONE, Result
from fedstate.sealing import KeyRing, PinnedKeys, write_public_keys
from fedstate.settings import AgentSettings
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.manifests import INSTANCE_LABEL, KIND_LABEL, MANAGED_BY
from fedstate_agent.reconciler import BUSY_REQUEUE_SECONDS, AgentReconciler
from fedstate_sim.config import default_config
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.world import NullMemberHost, World

CLUSTER = "member-1"
NAME = "stale"


@pytest.fixture
async def api() -> AsyncIterator[tuple[World, client.ApiClient]]:
    async with World(default_config(1), host=NullMemberHost()) as world:
        configuration = client.Configuration(host=world.clusters[CLUSTER].api_url)
        configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with client.ApiClient(configuration) as api:
            yield world, api


async def services(api: client.ApiClient) -> list[str]:
    found = await client.CoreV1Api(api).list_namespaced_service("default", label_selector=f"{INSTANCE_LABEL}={NAME}")
    return [s.metadata.name for s in found.items]


@pytest.mark.timeout(60)
async def test_a_stale_member_is_removed_once_its_cluster_is_back(
    api: tuple[World, client.ApiClient], bus: Bus, tmp_path: Path
) -> None:
    world, kube_api = api
    pinned = PinnedKeys(write_public_keys(KeyRing.generate(), tmp_path / "federation.key"))
    labels = {**MANAGED_BY, INSTANCE_LABEL: NAME, KIND_LABEL: Kind.MULTICLOUD_MONGODB.value}
    body = {
        "metadata": {"name": f"{NAME}-m0", "labels": labels},
        "spec": {"ports": [{"name": "mongodb", "port": 27017}]},
    }
    await client.CoreV1Api(kube_api).create_namespaced_service("default", body)
    kube = KubeObjects(kube_api, lambda obj: None)
    following = asyncio.ensure_future(kube.follow())
    dataplane, observed = KVCache(bus.dataplane, f"{CLUSTER}.>"), KVCache(bus.observed, f"{CLUSTER}.>")
    await dataplane.start()
    await observed.start()
    try:
        # Every informer has listed the cluster before it fails (the first object told is not enough: on a loaded
        # machine one informer's list can lag, and a pass then waits for it while the API refuses, for good).
        await asyncio.gather(*(informer.synced.wait() for informer in kube.informers.values()))
        agent = AgentReconciler(
            bus, kube, AgentSettings(cluster=CLUSTER), "127.0.1.1", dataplane, observed, KeyRing.generate(), pinned
        )
        key = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, NAME).dataplane_key(CLUSTER)
        await world.fail_cluster(CLUSTER)
        assert Result(requeue_after=BUSY_REQUEUE_SECONDS) == await agent.reconcile(key)  # no exception, no backoff
        await world.recover_cluster(CLUSTER)
        while (result := await agent.reconcile(key)) != DONE:
            assert result.requeue_after is not None and result.requeue_after <= BUSY_REQUEUE_SECONDS
            await asyncio.sleep(result.requeue_after)
        assert [] == await services(kube_api)
    finally:
        following.cancel()
        await dataplane.stop()
        await observed.stop()
