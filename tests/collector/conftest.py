"""Collector fixtures: simulated clusters whose names, node pool and tenant are unique to each test."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fedstate.bus.connection import Bus
from fedstate.kube import api_client
from fedstate_collector.__main__ import Collector
from fedstate_collector.settings import CollectorSettings
from fedstate_sim.config import ClusterConfig, NodeGroup, SimConfig
from fedstate_sim.world import World


@dataclass
class Sim:
    world: World
    kubeconfig: Path
    prefix: str  # cluster names, node pool and tenant are unique to the test: fs-clusters is shared

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    async def collector(
        self,
        stack: AsyncExitStack,
        bus: Bus,
        suffix: str,
        *,
        informing: bool = True,
        kubeconfig: Path | None = None,
        **settings: Any,
    ) -> Collector:
        """A collector of cluster ``suffix`` (as the admin, or the user of the context in ``kubeconfig``);
        ``informing``: its informers run and have listed the cluster (for ``publish_once``; ``run`` starts its
        own)."""
        kubeconfig = kubeconfig or self.kubeconfig
        api = await api_client(kubeconfig, self.name(suffix))
        stack.push_async_callback(api.close)
        config = CollectorSettings(
            cluster=self.name(suffix), kubeconfig=kubeconfig, kube_context=self.name(suffix), **settings
        )
        collector = Collector(bus, api, config)
        if informing:
            following = asyncio.create_task(collector.follow())
            stack.push_async_callback(cancelled, following)
            await collector.synced(timeout=10)
        return collector


async def cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture
async def sim(tmp_path: Path, bus: Bus) -> AsyncIterator[Sim]:
    """Cluster ``a`` (eu-west, aws, tier=gold) and ``b`` (us-east, gcp), three nodes in one zone each."""
    prefix = f"lbl{uuid.uuid4().hex[:6]}"
    nodes = [NodeGroup(count=3, labels={"pool": prefix})]
    config = SimConfig(
        clusters=[
            ClusterConfig(
                name=f"{prefix}-a", region="eu-west", zone="eu-west-1", provider="aws", nodes=nodes,
                labels={"tier": "gold"},
            ),
            ClusterConfig(name=f"{prefix}-b", region="us-east", zone="us-east-1", provider="gcp", nodes=nodes),
        ]
    )  # fmt: skip
    async with World(config) as world:
        yield Sim(world, world.write_kubeconfig(tmp_path / "kubeconfig"), prefix)
    for cluster in config.clusters:
        await bus.clusters.delete(cluster.name)
