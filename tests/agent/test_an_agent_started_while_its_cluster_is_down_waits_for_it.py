"""An agent started while its member cluster is down (its API refuses connections) waits for the API instead
of exiting: nothing restarts it in a local stack, and a process serving several clusters would lose every
one of its agents with it. Found by the chaos test (a kill -9 of an agent while its cluster was failed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from kubernetes.aio import client

from fedstate_agent import kubeobjects
from fedstate_agent.__main__ import discover_vip
from fedstate_sim.config import default_config
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.world import NullMemberHost, World


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with World(default_config(1), host=NullMemberHost()) as world:
        yield world


@pytest.mark.timeout(60)
async def test_the_vip_is_found_once_the_failed_cluster_is_back(world: World) -> None:
    cluster = world.clusters["member-1"]
    await world.fail_cluster("member-1")
    configuration = client.Configuration(host=cluster.api_url)
    configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with client.ApiClient(configuration) as api:
        asking = asyncio.ensure_future(discover_vip(api))
        await asyncio.sleep(6)  # longer than one refused try (about 4 s of connection attempts)
        assert not asking.done(), asking
        await world.recover_cluster("member-1")
        assert cluster.vip == await asyncio.wait_for(asking, 30)


@pytest.mark.timeout(60)
async def test_a_pass_does_not_wait_for_a_first_list_longer_than_the_sync_wait(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its informers never listed the cluster: a pass fails after the sync wait (to be retried) instead of
    holding its worker until the API answers, and reads the objects once it does."""
    monkeypatch.setattr(kubeobjects, "SYNC_WAIT_SECONDS", 1.0)
    cluster = world.clusters["member-1"]
    await world.fail_cluster("member-1")
    configuration = client.Configuration(host=cluster.api_url)
    configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with client.ApiClient(configuration) as api:
        kube = kubeobjects.KubeObjects(api)
        following = asyncio.ensure_future(kube.follow())
        with pytest.raises(TimeoutError, match="has not listed the cluster"):
            await asyncio.wait_for(kube.services("default", "rs"), 5)
        await world.recover_cluster("member-1")
        assert [] == await asyncio.wait_for(_once_listed(kube), 30)
        following.cancel()


async def _once_listed(kube: kubeobjects.KubeObjects) -> list[object]:
    while True:
        try:
            return list(await kube.services("default", "rs"))
        except TimeoutError:
            continue
