"""An agent upgrade that renders pods differently restarts members one at a time, never all at once
(issue 5, item 2): pods of another render version count as outdated, so they wait for the orchestrator's
``restart`` like any other update. Runs the agent's own code against the simulator's Kubernetes API."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import fedstate_agent.manifests as manifests
from fedstate.models.dataplane import Credentials, DataPlaneSpec, InstanceRef, MemberSpec
from fedstate.models.multicloud import ConfigEntry, ExportSpec
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.manifests import RENDER_VERSION, render_all, statefulset_revision
from fedstate_agent.memberset import MemberSet, Snapshot
from fedstate_agent.mongo import MongoAdmin
from fedstate_agent.podshell import PodShell
from fedstate_sim.config import default_config
from fedstate_sim.world import NullMemberHost, World

from ..simapi import admin_client

# The rendering of RENDER_VERSION, pinned. If this test fails, the agent now renders pods differently:
# bump RENDER_VERSION in fedstate_agent/manifests.py (so running members restart one at a time after an
# upgrade, not all at once) and put the new version and digest here.
PINNED_RENDERING = {1: "5f8f3e0224c55a04"}


def spec(**changes: object) -> DataPlaneSpec:
    base = DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace="app", name="rs", uid="0f1e2d3c-aaaa-4000-8000-0000"),
        generation=1,
        repl_set_name="rs",
        members=[MemberSpec(ordinal=o, name=f"rs-m{o}") for o in range(3)],
        credentials=Credentials(
            key_file="k" * 64, root_password="r", cluster_admin_password="c", cluster_monitor_password="m"
        ),
        revision="rs-abc",
    )
    return base.model_copy(update=changes)


def rendering_digest() -> str:
    variants = [
        spec(),
        spec(
            export=ExportSpec.model_validate({"enable": True, "resource": {"requests": {"cpu": "200m"}}}),
            config_set=[ConfigEntry(name="net.maxIncomingConnections", value="100")],
            members=[MemberSpec(ordinal=0, name="rs-m0"), MemberSpec(ordinal=1, name="rs-m1", arbiter=True)],
        ),
    ]
    # The pod templates only: what a member's pod is (a Service or Secret change restarts nothing).
    rendered = [
        o["spec"]["template"] for variant in variants for o in render_all(variant) if o["kind"] == "StatefulSet"
    ]
    return hashlib.sha256(json.dumps(rendered, sort_keys=True).encode()).hexdigest()[:16]


def test_the_rendering_of_this_render_version_is_pinned() -> None:
    assert PINNED_RENDERING.get(RENDER_VERSION) == rendering_digest(), (
        "pods render differently now: bump RENDER_VERSION and pin the new digest (see the comment above)"
    )


@pytest.fixture
async def members() -> AsyncIterator[tuple[MemberSet, KubeObjects]]:
    async with World(default_config(1), host=NullMemberHost()) as world, admin_client(world) as api:
        kube = KubeObjects(api)
        following = asyncio.ensure_future(kube.follow())
        mongo = MongoAdmin(PodShell(api))
        yield MemberSet(kube, mongo, "member-1", "127.0.0.1"), kube
        following.cancel()
        await mongo.close()


async def no_events(reason: str, message: str, warning: bool) -> None:
    return None


async def statefulsets_once(
    kube: KubeObjects, revisions: Callable[[dict[str, str]], bool]
) -> dict[str, dict[str, Any]]:
    """The StatefulSets once the agent's informer shows revisions that satisfy ``revisions`` (it lags a write)."""
    for _ in range(100):
        found = {s["metadata"]["name"]: s for s in await kube.statefulsets("app", "rs")}
        if revisions({name: statefulset_revision(sts) for name, sts in found.items()}):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"the informer never showed the expected revisions: {found}")


async def test_a_new_render_version_touches_no_running_member_until_its_turn(
    members: tuple[MemberSet, KubeObjects], monkeypatch: pytest.MonkeyPatch
) -> None:
    memberset, kube = members
    current = spec()
    await memberset.apply(current)
    before = await statefulsets_once(kube, lambda revisions: len(revisions) == 3)
    assert {"rs-abc"} == {statefulset_revision(s) for s in before.values()}

    monkeypatch.setattr(manifests, "RENDER_VERSION", RENDER_VERSION + 1)  # the agent was upgraded
    await memberset.apply(current)
    after = await statefulsets_once(kube, lambda revisions: "rs-abc" not in revisions.values())
    assert {n: s["spec"]["template"] for n, s in before.items()} == {n: s["spec"]["template"] for n, s in after.items()}
    assert {"rs-abc/render-1"} == {statefulset_revision(s) for s in after.values()}, "outdated, not current"

    # The orchestrator's turn for m1: only its StatefulSet takes the new rendering.
    snapshot = Snapshot(members=[], states={}, statefulsets=after)
    await memberset._restart(current.model_copy(update={"restart": [1]}), snapshot, no_events)
    rolled = {
        name: statefulset_revision(sts)
        for name, sts in (await statefulsets_once(kube, lambda revisions: "rs-abc" in revisions.values())).items()
    }
    assert {"rs-m0": "rs-abc/render-1", "rs-m1": "rs-abc", "rs-m2": "rs-abc/render-1"} == rolled
