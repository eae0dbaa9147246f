"""An object the agent has just created is not created again by a pass that runs before its informer tells of it
(controller-runtime's "expectations"): the next pass of a new set found no StatefulSet yet and wrote it once more,
0.7 writes per member. An object deleted after its informer told of it is created again at the next pass."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes.aio import client

from fedstate_agent import kubeobjects
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.manifests import INSTANCE_LABEL, MANAGED_BY
from fedstate_sim.config import default_config
from fedstate_sim.world import NullMemberHost, World

from ..simapi import admin_client

NAME, NAMESPACE = "rs-m0", "default"
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {**MANAGED_BY, INSTANCE_LABEL: "rs"}},
    "spec": {"type": "NodePort", "ports": [{"name": "mongodb", "port": 27017}]},
}


@pytest.fixture
async def api() -> AsyncIterator[client.ApiClient]:
    async with World(default_config(1), host=NullMemberHost()) as world, admin_client(world) as api:
        yield api


@contextlib.asynccontextmanager
async def following(kube: KubeObjects) -> AsyncIterator[None]:
    task = asyncio.ensure_future(kube.follow())
    try:
        await kube.services(NAMESPACE, "rs")  # the informers have listed the cluster
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(check: Any, what: str) -> None:
    for _ in range(250):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never {what}")


async def test_a_pass_before_the_informer_tells_of_a_new_object_does_not_create_it_again(
    api: client.ApiClient,
) -> None:
    kube = KubeObjects(api)
    async with following(kube):
        pass  # listed once, then the informers stop: every later event is late
    assert await kube.apply(SERVICE)
    calls = kube.calls
    assert not await kube.apply(SERVICE), "created a moment ago: not written again"
    assert calls == kube.calls


async def test_past_the_echo_time_an_unseen_object_is_created_again(
    api: client.ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kubeobjects, "ECHO_SECONDS", 0.0)
    kube = KubeObjects(api)
    async with following(kube):
        pass
    assert await kube.apply(SERVICE)
    assert await kube.apply(SERVICE), "its informer never told of it: it is written again"


async def test_an_object_deleted_after_it_was_seen_is_created_again(api: client.ApiClient) -> None:
    kube = KubeObjects(api)
    informer = kube.informers["Service"]
    async with following(kube):
        assert await kube.apply(SERVICE)
        await until(lambda: informer.get(NAMESPACE, NAME) is not None, "told of the Service")
        await client.CoreV1Api(api).delete_namespaced_service(NAME, NAMESPACE)
        await until(lambda: informer.get(NAMESPACE, NAME) is None, "told of its deletion")
        assert await kube.apply(SERVICE), "gone: created again"
