"""Issue 10: an agent pins the federation's public key it was given. A box sealed to its cluster's key by any other
key — what a bus user that may write a cluster's specs, but holds no federation key, could forge — is refused: a
warning event (and, for a single-cluster MongoDB, its status) says why, and nothing is written to Kubernetes."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes.aio import client

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.events import recent
from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import StoredObject
from fedstate.bus.store import Entry
from fedstate.models.dataplane import Credentials, DataPlaneSpec
from fedstate.models.multicloud import MultiCloudMongoDB
from fedstate.replset.lifecycle import ClusterPlan
from fedstate.sealing import KeyRing, PinnedKeys, SealingError, open_dataplane_spec, write_public_keys
from fedstate.settings import AgentSettings
from fedstate_agent.customresources import MongoDBResources
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.reconciler import SEALED_CREDENTIALS, AgentReconciler, OpenedSpecs
from fedstate_agent.single import SingleClusterReconciler
from fedstate_federation.domain.dataplane import render
from fedstate_federation.vault import Vault
from fedstate_sim.config import default_config
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.world import NullMemberHost, World

CLUSTER = "member-1"
FEDERATION, IMPOSTOR, CLUSTER_KEY = KeyRing.generate(), KeyRing.generate(), KeyRing.generate()


@dataclass
class Agent:
    bus: Bus
    api: client.ApiClient
    multicloud: AgentReconciler
    single: SingleClusterReconciler

    async def kubernetes_objects(self, name: str) -> list[str]:
        """Every Secret, Service and StatefulSet of the instance ``name`` in the cluster."""
        core, apps = client.CoreV1Api(self.api), client.AppsV1Api(self.api)
        found = [
            *(await core.list_namespaced_secret("default")).items,
            *(await core.list_namespaced_service("default")).items,
            *(await apps.list_namespaced_stateful_set("default")).items,
        ]
        return [o.metadata.name for o in found if o.metadata.name.startswith(name)]

    async def warnings(self, key: InstanceKey) -> list[str]:
        return [e.message for e in await recent(self.bus.js, key) if e.reason == SEALED_CREDENTIALS]


@pytest.fixture
async def agent(bus: Bus, tmp_path: Path) -> AsyncIterator[Agent]:
    pinned = PinnedKeys(write_public_keys(FEDERATION, tmp_path / "federation.key"))
    async with World(default_config(1), host=NullMemberHost()) as world:
        configuration = client.Configuration(host=world.clusters[CLUSTER].api_url)
        configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with client.ApiClient(configuration) as api:
            kube = KubeObjects(api, lambda obj: None)
            dataplane, observed = KVCache(bus.dataplane, f"{CLUSTER}.>"), KVCache(bus.observed, f"{CLUSTER}.>")
            await dataplane.start()
            await observed.start()
            settings = AgentSettings(cluster=CLUSTER)
            multicloud = AgentReconciler(bus, kube, settings, "127.0.1.1", dataplane, observed, CLUSTER_KEY, pinned)
            single = SingleClusterReconciler(
                bus, kube, MongoDBResources(api), settings, multicloud.members, CLUSTER_KEY, pinned
            )
            try:
                yield Agent(bus, api, multicloud, single)
            finally:
                await dataplane.stop()
                await observed.stop()


def dataplane_spec(name: str) -> DataPlaneSpec:
    key = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, name)
    obj = MultiCloudMongoDB.model_validate(
        {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "generation": 1}, "spec": {}}
    )
    return render(key, obj, ClusterPlan(CLUSTER, [], True, None), Credentials.generate(), None)


async def test_a_data_plane_spec_sealed_by_another_key_is_refused_and_nothing_is_created(agent: Agent) -> None:
    name = f"forged-{uuid.uuid4().hex[:6]}"
    key = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, name)
    forged = Vault(IMPOSTOR).sealed_spec(dataplane_spec(name), CLUSTER, CLUSTER_KEY.public_key, None)
    await agent.multicloud.dataplane.write_through(key.dataplane_key(CLUSTER), forged)

    await agent.multicloud.reconcile(key.dataplane_key(CLUSTER))
    await agent.multicloud.reconcile(key.dataplane_key(CLUSTER))

    assert [] == await agent.kubernetes_objects(name)
    [warning] = await agent.warnings(key)  # told once, not on every pass
    assert f"sealed by {IMPOSTOR.fingerprint}, which is not trusted here" in warning
    genuine = Vault(FEDERATION).sealed_spec(dataplane_spec(name), CLUSTER, CLUSTER_KEY.public_key, None)
    assert open_dataplane_spec(CLUSTER_KEY, genuine, CLUSTER, agent.multicloud.trusted.keys()).credentials


def single_cluster_mongodb(name: str, root_password: str) -> StoredObject:
    return StoredObject.model_validate(
        {
            "apiVersion": "middleware.fedstate.io/v1alpha1",
            "kind": "MongoDB",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "generation": 1},
            "spec": {"members": 1, "rootPassword": root_password},
            "targetCluster": CLUSTER,
        }
    )


async def test_a_single_cluster_mongodb_whose_secrets_another_key_sealed_is_refused_with_a_condition(
    agent: Agent,
) -> None:
    name = f"forged-{uuid.uuid4().hex[:6]}"
    key = InstanceKey("default", "default", Kind.MONGODB, name)
    clear = single_cluster_mongodb(name, "chosen-by-the-forger")
    impostor = Vault(IMPOSTOR)
    await agent.bus.spec.put(
        key.spec_key, impostor.with_cluster_box(impostor.sealed_object(clear), CLUSTER_KEY.public_key)
    )

    await agent.single.reconcile(key.spec_key)

    assert [] == await agent.kubernetes_objects(name)
    status = await agent.bus.status.get(key.status_key)
    assert status is not None and status.value.mongodb is not None
    ready = next(c for c in status.value.mongodb.conditions if c.type == "Ready")
    assert ("Error", "False", SEALED_CREDENTIALS) == (status.value.mongodb.state, ready.status, ready.reason)
    assert f"sealed by {IMPOSTOR.fingerprint}, which is not trusted here" in ready.message
    assert 1 == len(await agent.warnings(key))


async def test_a_single_cluster_mongodb_not_sealed_to_the_cluster_yet_waits_for_its_box_without_a_refusal(
    agent: Agent,
) -> None:
    """The federation seals a single-cluster object's secrets to its cluster once it has read the cluster's key (a
    new cluster's agent, a rotation): an agent that sees the object first waits for the box, and says no refusal."""
    name = f"early-{uuid.uuid4().hex[:6]}"
    key = InstanceKey("default", "default", Kind.MONGODB, name)
    federation = Vault(FEDERATION)
    without_box = federation.with_cluster_box(federation.sealed_object(single_cluster_mongodb(name, "root-1")), None)
    assert without_box.sealed is None
    await agent.bus.spec.put(key.spec_key, without_box)

    await agent.single.reconcile(key.spec_key)

    assert [] == await agent.kubernetes_objects(name)
    assert [] == await agent.warnings(key)
    status = await agent.bus.status.get(key.status_key)
    assert status is not None and status.value.mongodb is not None
    assert "Error" != status.value.mongodb.state
    assert SEALED_CREDENTIALS not in {c.reason for c in status.value.mongodb.conditions}

    following = asyncio.ensure_future(agent.single.kube.follow())
    try:
        await agent.bus.spec.put(key.spec_key, federation.with_cluster_box(without_box, CLUSTER_KEY.public_key))
        await agent.single.reconcile(key.spec_key)
    finally:
        following.cancel()

    assert {f"{name}-auth", f"{name}-m0"} <= set(await agent.kubernetes_objects(name)), "once sealed, it is created"
    assert [] == await agent.warnings(key)


def test_a_spec_opened_before_is_refused_once_its_sealer_is_no_longer_trusted(tmp_path: Path) -> None:
    """The agent keeps a spec it opened while its revision stands (the same object, opened once); a change of the
    keys it pins (a federation key revoked) opens it again, and a spec its new keys did not seal is refused without
    a new revision."""
    key_file = tmp_path / "federation.key"
    opened = OpenedSpecs(CLUSTER_KEY, PinnedKeys(write_public_keys(FEDERATION, key_file)), CLUSTER)
    sealed = Vault(FEDERATION).sealed_spec(dataplane_spec("revoked"), CLUSTER, CLUSTER_KEY.public_key, None)
    entry = Entry("member-1.default.default.revoked", 7, sealed, {})
    first = opened.open(entry.key, entry)
    assert first.credentials is not None
    assert first is opened.open(entry.key, entry)

    os.utime(write_public_keys(IMPOSTOR, key_file), ns=(1, 1))  # another key only, and a new mtime for sure
    with pytest.raises(SealingError, match=f"sealed by {FEDERATION.fingerprint}, which is not trusted here"):
        opened.open(entry.key, entry)
