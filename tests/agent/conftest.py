"""The agent's own reconciler (NATS, the simulator's Kubernetes API and mongod) for one member cluster; the test
plays the orchestrator (``hand_over``: it seals each spec as the federation would)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes.aio import client

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey
from fedstate.models.dataplane import Credentials, DataPlaneStatus
from fedstate.models.multicloud import MultiCloudMongoDB
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
async def agent(bus: Bus, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Agent]:
    """Parametrized indirectly with the simulated pods' start-up seconds (0 unless given)."""
    pinned = PinnedKeys(write_public_keys(FEDERATION, tmp_path / "federation.key"))
    pod_startup = float(getattr(request, "param", 0.0))
    settings = SimSettings(election_timeout_millis=200, vip_octet=77, pod_startup_seconds=pod_startup)
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


async def hand_over(
    agent: Agent, key: InstanceKey, obj: MultiCloudMongoDB, plan: ClusterPlan, credentials: Credentials
) -> None:
    """The orchestrator's write of this cluster's spec: rendered and sealed to the agent."""
    spec = render(key, obj, plan, credentials, None)
    sealed = Vault(FEDERATION).sealed_spec(spec, CLUSTER, CLUSTER_KEY.public_key, None)
    await agent.reconciler.dataplane.write_through(key.dataplane_key(CLUSTER), sealed)
