"""With ``storage.retentionPolicy: Delete`` an instance's volumes go with it, and it counts as gone only once they
have: a claim deleted while a pod still mounts it stays, Terminating (pvc-protection), and the agent's tear-down
keeps reporting it as left. So do its pods while they terminate. Runs the agent's own code against the simulator's
Kubernetes API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes.aio import client

from fedstate.models.dataplane import Credentials, DataPlaneSpec, InstanceRef, MemberSpec
from fedstate.models.multicloud import StorageSpec
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.manifests import render_all
from fedstate_agent.reconciler import FEDERATED_KIND
from fedstate_sim.config import default_config
from fedstate_sim.kube.resources import PODS
from fedstate_sim.world import NullMemberHost, World

from ..simapi import admin_client

NAMESPACE = "app"


def spec() -> DataPlaneSpec:
    return DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace=NAMESPACE, name="rs", uid="0f1e2d3c-bbbb-4000-8000-0000"),
        generation=1,
        repl_set_name="rs",
        members=[MemberSpec(ordinal=0, name="rs-m0")],
        credentials=Credentials(
            key_file="k" * 64, root_password="r", cluster_admin_password="c", cluster_monitor_password="m"
        ),
        storage=StorageSpec(retention_policy="Delete"),
        revision="rs-abc",
    )


@pytest.fixture
async def kube() -> AsyncIterator[tuple[KubeObjects, client.CoreV1Api]]:
    async with World(default_config(1), host=NullMemberHost()) as world, admin_client(world) as api:
        objects = KubeObjects(api)
        following = asyncio.ensure_future(objects.follow())
        yield objects, client.CoreV1Api(api)
        following.cancel()


async def until(check: Any, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
    return found


@pytest.mark.timeout(60)
async def test_the_tear_down_waits_for_a_claim_a_pod_still_mounts(kube: tuple[KubeObjects, client.CoreV1Api]) -> None:
    objects, core = kube
    await objects.ensure_namespace(NAMESPACE)
    for obj in render_all(spec()):
        await objects.apply(obj)
    (claim,) = await until(lambda: objects.claims(NAMESPACE, "rs"))
    name = claim["metadata"]["name"]
    # Something else mounts the member's volume (a backup job, say): the claim cannot go before it does.
    holder = {
        "metadata": {"name": "backup"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": name}}],
        },
    }
    await core.create_namespaced_pod(NAMESPACE, holder)

    assert await objects.delete_instance(NAMESPACE, "rs", FEDERATED_KIND) > 0
    await until(lambda: _left(objects, 1))  # its member's objects gone, its volume not
    terminating = await core.read_namespaced_persistent_volume_claim(name, NAMESPACE)
    assert terminating.metadata.deletion_timestamp is not None
    await asyncio.sleep(1)
    assert 1 == await objects.delete_instance(NAMESPACE, "rs", FEDERATED_KIND), "its volume is still there"

    await core.delete_namespaced_pod("backup", NAMESPACE)
    await until(lambda: _nothing_left(objects))


class SlowShutdown(NullMemberHost):
    """Members whose clean shutdown (SIGTERM) lasts until the test lets it end."""

    def __init__(self) -> None:
        self.may_stop = asyncio.Event()

    async def stop_member(self, host: str, port: int, clean: bool = False) -> None:
        if clean:
            await self.may_stop.wait()


@pytest.mark.timeout(60)
async def test_the_tear_down_waits_for_its_pods_to_terminate() -> None:
    """A deleted member's pod stays, Terminating, while its mongod shuts down: a new instance of the same name made
    meanwhile would meet it. The instance is gone only once its pods are."""
    host = SlowShutdown()
    async with World(default_config(1), host=host) as world, admin_client(world) as api:
        objects = KubeObjects(api)
        following = asyncio.ensure_future(objects.follow())
        core = client.CoreV1Api(api)
        await objects.ensure_namespace(NAMESPACE)
        kept = spec().model_copy(update={"storage": StorageSpec()})  # volumes retained: only the pod can hold it
        for obj in render_all(kept):
            await objects.apply(obj)
        await until(lambda: _member_running(world))
        await objects.delete_instance(NAMESPACE, "rs", FEDERATED_KIND)
        (pod,) = await until(lambda: _terminating_pods(core))
        await asyncio.sleep(0.5)
        assert await objects.delete_instance(NAMESPACE, "rs", FEDERATED_KIND) >= 1, f"{pod} is still there"
        host.may_stop.set()
        await until(lambda: _nothing_left(objects))
        following.cancel()


async def _member_running(world: World) -> bool:
    return any(m.member_of(p) for m in [world.clusters["member-1"].members] for p in _pods(world))


def _pods(world: World) -> list[dict[str, Any]]:
    return world.clusters["member-1"].store.list(PODS, NAMESPACE)


async def _terminating_pods(core: client.CoreV1Api) -> list[str]:
    pods = (await core.list_namespaced_pod(NAMESPACE)).items
    return [p.metadata.name for p in pods if p.metadata.deletion_timestamp is not None]


async def _left(objects: KubeObjects, count: int) -> bool:
    return await objects.delete_instance(NAMESPACE, "rs", FEDERATED_KIND) == count


async def _nothing_left(objects: KubeObjects) -> bool:
    return await _left(objects, 0)
