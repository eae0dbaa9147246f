"""The official Kubernetes client pointed at one simulated cluster, as an agent's tests talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kubernetes.aio import client

from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.world import World


@asynccontextmanager
async def admin_client(world: World, cluster: str = "member-1") -> AsyncIterator[client.ApiClient]:
    """An API client of ``cluster`` with the simulator's admin token, closed on exit."""
    configuration = client.Configuration(host=world.clusters[cluster].api_url)
    configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with client.ApiClient(configuration) as api:
        yield api
