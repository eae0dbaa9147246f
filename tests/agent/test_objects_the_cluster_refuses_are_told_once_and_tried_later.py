"""An object the member cluster's API refuses (an invalid field, an admission webhook's no) is told once as a Warning
event quoting the API, the rest of its wave is still written, and nothing after it; the pass gives up quietly and
tries again later, and the same refusal is not told again. Runs the agent's own code against the simulator's
Kubernetes API, which refuses what kube-apiserver refuses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from fedstate.models.dataplane import Credentials, DataPlaneSpec, InstanceRef, MemberSpec
from fedstate_agent.memberset import APPLY_REFUSED, ObjectsRefused

from .conftest import Agent
from .test_members_leaving_a_cluster_name_the_volumes_they_keep import Told

BAD_TOLERATION = {"key": "dedicated", "operator": "Exist", "value": "db", "effect": "NoSchedule"}


def spec(name: str, tolerations: list[dict[str, str]]) -> DataPlaneSpec:
    return DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace="default", name=name),
        generation=1,
        repl_set_name=name,
        members=[MemberSpec(ordinal=0, name=f"{name}-m0")],
        credentials=Credentials(
            key_file="k" * 64, root_password="r", cluster_admin_password="c", cluster_monitor_password="m"
        ),
        tolerations=tolerations,
        revision=f"{name}-abc",
    )


async def names(read: Callable[[], Awaitable[list[dict[str, Any]]]], wanted: list[str]) -> list[str]:
    """The objects' names once they are ``wanted`` (the informers follow our writes a moment later), else as found."""
    deadline = asyncio.get_running_loop().time() + 5
    while (found := [o["metadata"]["name"] for o in await read()]) != wanted:
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    return found


@pytest.mark.timeout(60)
async def test_a_refused_statefulset_is_told_once_and_written_once_it_is_fixed(agent: Agent) -> None:
    members, sink = agent.reconciler.members, Told()
    kube = members.kube
    for _ in range(2):  # a second pass meets the same refusal: not told again
        with pytest.raises(ObjectsRefused) as refused:
            await members.apply(spec("tolerant", [BAD_TOLERATION]), sink)
        assert 1 == len(refused.value.refusals)
    assert [APPLY_REFUSED] == [reason for reason, _ in sink.told]
    message = sink.told[0][1]
    assert message.startswith('the cluster\'s API refused StatefulSet tolerant-m0: StatefulSet.apps "tolerant-m0" is')
    assert 'spec.template.spec.tolerations[0].operator: Unsupported value: "Exist"' in message
    assert ["tolerant-m0"] == await names(lambda: kube.services("default", "tolerant"), ["tolerant-m0"])
    assert [] == [s["metadata"]["name"] for s in await kube.statefulsets("default", "tolerant")]

    fixed = {**BAD_TOLERATION, "operator": "Equal"}
    await members.apply(spec("tolerant", [fixed]), sink)
    assert ["tolerant-m0"] == await names(lambda: kube.statefulsets("default", "tolerant"), ["tolerant-m0"])
    assert 1 == len(sink.told), "the fix is no news"


@pytest.mark.timeout(60)
async def test_an_instance_made_again_after_its_tear_down_is_told_its_refusal_again(agent: Agent) -> None:
    members, sink = agent.reconciler.members, Told()
    with pytest.raises(ObjectsRefused):
        await members.apply(spec("again", [BAD_TOLERATION]), sink)
    for _ in range(200):  # the tear-down is done once nothing of the instance is left
        if not await members.tear_down("default", "again", "MultiCloudMongoDB", None):
            break
        await asyncio.sleep(0.05)
    with pytest.raises(ObjectsRefused):
        await members.apply(spec("again", [BAD_TOLERATION]), sink)
    assert [APPLY_REFUSED, APPLY_REFUSED] == [reason for reason, _ in sink.told]
