"""The agent's pass that creates a set's users looks at the set again before it reports: one report says both that
the users were created and that clusterAdmin reads the set (``usersReady``), which is what the federation waits
for. Reported at once and looked at again in the next pass, it was one report, one orchestrator pass and one
status write more per instance on its way to Health.

Runs the agent's own reconciler (NATS, the simulator's Kubernetes API and mongod) for a one-member set; the test
plays the orchestrator: it seals each spec and adds the set's config once the member's address is reported."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes.aio import client

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey, Kind
from fedstate.models.dataplane import Credentials, DataPlaneStatus, MemberSpec
from fedstate.models.multicloud import MultiCloudMongoDB
from fedstate.replset import WantedMember, desired_config
from fedstate.replset.lifecycle import ClusterPlan
from fedstate.sealing import KeyRing, PinnedKeys, write_public_keys
from fedstate.settings import AgentSettings
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.reconciler import AgentReconciler
from fedstate_federation.domain.dataplane import render
from fedstate_federation.vault import Vault
from fedstate_sim.config import SimSettings, default_config
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.world import World

CLUSTER = "member-1"
FEDERATION, CLUSTER_KEY = KeyRing.generate(), KeyRing.generate()


@dataclass
class Agent:
    reconciler: AgentReconciler
    observed: KVCache[DataPlaneStatus]


@pytest.fixture
async def agent(bus: Bus, tmp_path: Path) -> AsyncIterator[Agent]:
    pinned = PinnedKeys(write_public_keys(FEDERATION, tmp_path / "federation.key"))
    settings = SimSettings(election_timeout_millis=200, vip_octet=77)
    async with World(default_config(1, settings)) as world:
        configuration = client.Configuration(host=world.clusters[CLUSTER].api_url)
        configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with client.ApiClient(configuration) as api:
            kube = KubeObjects(api, lambda obj: None)
            following = asyncio.ensure_future(kube.follow())
            dataplane, observed = KVCache(bus.dataplane, f"{CLUSTER}.>"), KVCache(bus.observed, f"{CLUSTER}.>")
            await dataplane.start()
            await observed.start()
            vip = world.clusters[CLUSTER].vip
            reconciler = AgentReconciler(
                bus, kube, AgentSettings(cluster=CLUSTER), vip, dataplane, observed, CLUSTER_KEY, pinned
            )
            try:
                yield Agent(reconciler, observed)
            finally:
                following.cancel()
                await reconciler.mongo.close()
                await dataplane.stop()
                await observed.stop()


async def test_the_pass_that_creates_the_users_reports_them_ready(agent: Agent) -> None:
    name = f"users-{uuid.uuid4().hex[:6]}"
    key = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, name)
    obj = MultiCloudMongoDB.model_validate(
        {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "generation": 1}, "spec": {}}
    )
    credentials = Credentials.generate()
    members = [MemberSpec(ordinal=0, name=f"{name}-m0")]

    async def hand_over(plan: ClusterPlan) -> None:
        spec = render(key, obj, plan, credentials, None)
        sealed = Vault(FEDERATION).sealed_spec(spec, CLUSTER, CLUSTER_KEY.public_key, None)
        await agent.reconciler.dataplane.write_through(key.dataplane_key(CLUSTER), sealed)

    await hand_over(ClusterPlan(CLUSTER, members, True, None))
    reports: list[DataPlaneStatus] = []
    configured = False
    for _ in range(400):
        await agent.reconciler.reconcile(key.dataplane_key(CLUSTER))
        entry = agent.observed.get(key.dataplane_key(CLUSTER))
        if entry is not None and (not reports or entry.value != reports[-1]):
            reports.append(entry.value)
        report = reports[-1] if reports else None
        address = report.addresses().get(0) if report is not None else None
        if address is not None and not configured:
            configured = True  # the orchestrator's part: the set's config, once the member's address is known
            await hand_over(
                ClusterPlan(CLUSTER, members, True, desired_config(name, [WantedMember(0, address, True)], 1))
            )
        if report is not None and report.users_ready:
            break
        await asyncio.sleep(0.05)
    created = [r for r in reports if any(c.type == "userClusterAdmin" and c.status == "True" for c in r.conditions)]
    assert created, "the users were never created"
    assert created[0].users_ready, "the pass that created the users reported before it looked at them"
