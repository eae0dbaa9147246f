"""Drift repair follows the change: an object of ours that someone edits is applied again at the agent's next
pass, not up to ``REAPPLY_SECONDS`` (an hour) later; an object nobody touched is not written again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.manifests import INSTANCE_LABEL, MANAGED_BY
from fedstate_sim.config import default_config
from fedstate_sim.world import NullMemberHost, World

from ..simapi import admin_client

NAME, NAMESPACE = "rs-config", "default"
CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {**MANAGED_BY, INSTANCE_LABEL: "rs"}},
    "data": {"mongod.conf": "net:\n  port: 27017\n"},
}


@pytest.fixture
async def kube() -> AsyncIterator[KubeObjects]:
    async with World(default_config(1), host=NullMemberHost()) as world, admin_client(world) as api:
        objects = KubeObjects(api)
        following = asyncio.ensure_future(objects.follow())
        try:
            yield objects
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following


async def shows(kube: KubeObjects, check: Callable[[dict[str, Any]], bool], what: str) -> None:
    informer = kube.informers["ConfigMap"]
    for _ in range(250):
        seen = informer.get(NAMESPACE, NAME)
        if seen is not None and check(seen):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the informer never showed {what}")


def data_is(value: str) -> Callable[[dict[str, Any]], bool]:
    return lambda seen: seen.get("data") == {"mongod.conf": value}


async def test_a_hand_edit_is_put_back_at_the_next_pass_and_nothing_else_is_written(kube: KubeObjects) -> None:
    ours = CONFIG_MAP["data"]["mongod.conf"]  # type: ignore[index]
    assert await kube.apply(CONFIG_MAP)
    await shows(kube, data_is(ours), "our write")
    assert not await kube.apply(CONFIG_MAP), "an object nobody touched is not written again"

    await kube.core.patch_namespaced_config_map(NAME, NAMESPACE, {"data": {"mongod.conf": "edited by hand"}})
    await shows(kube, data_is("edited by hand"), "the hand edit")
    assert await kube.apply(CONFIG_MAP), "the edit is someone else's: the next pass writes ours again"
    await shows(kube, data_is(ours), "ours, put back")
    await asyncio.sleep(0.2)  # any event of the repair has arrived
    assert not await kube.apply(CONFIG_MAP), "the repair itself is not taken for another edit"
