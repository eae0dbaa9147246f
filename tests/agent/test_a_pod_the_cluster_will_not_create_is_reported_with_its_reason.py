"""A member whose StatefulSet the cluster accepted but whose pod its controller may not create (a ResourceQuota,
PodSecurity, a webhook) is reported with the controller's ``FailedCreate`` words, which Kubernetes tells only as an
event on the StatefulSet: the status can say why the member is not started. Once the pod exists the refusal is
history. Runs the agent's own code against the simulator, whose quota admission refuses as kube-apiserver's does."""

from __future__ import annotations

import asyncio

import pytest

from fedstate.models.dataplane import DataPlaneSpec, MemberObservation
from fedstate_agent.memberset import POD_REFUSED

from .conftest import Agent
from .test_members_leaving_a_cluster_name_the_volumes_they_keep import Told
from .test_objects_the_cluster_refuses_are_told_once_and_tried_later import spec as one_member_spec

NAME = "quoted"
QUOTA = {"metadata": {"name": "compute"}, "spec": {"hard": {"pods": "0"}}}


def spec() -> DataPlaneSpec:
    return one_member_spec(NAME, tolerations=[])


async def member_once(agent: Agent, until: str) -> MemberObservation:
    """The member as a pass observes it, once ``until`` is in its message ("" : once the message is empty)."""
    deadline = asyncio.get_running_loop().time() + 45
    while True:
        member = (await agent.reconciler.members.observe(spec())).members[0]
        if until in member.message if until else not member.message and member.pod_phase != "Absent":
            return member
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the member never matched {until!r}: {member}")
        await asyncio.sleep(0.1)


@pytest.mark.timeout(90)
async def test_a_pod_refused_by_a_quota_is_reported_in_the_controllers_words_until_it_exists(agent: Agent) -> None:
    members = agent.reconciler.members
    kube = members.kube
    await kube.core.create_namespaced_resource_quota("default", QUOTA)
    await members.apply(spec(), Told())

    member = await member_once(agent, "exceeded quota")
    assert "Absent" == member.pod_phase
    assert member.message.startswith(
        f'create Pod {NAME}-m0-0 in StatefulSet {NAME}-m0 failed error: pods "{NAME}-m0-0" is forbidden: '
        "exceeded quota: compute, requested: pods=1, used: pods="
    )
    told = Told()
    for _ in range(2):  # a second pass meets the same refusal: not told again
        await members.act(spec(), await members.observe(spec()), told)
    assert [(POD_REFUSED, member.message)] == [(r, m) for r, m in told.told if r == POD_REFUSED]

    # The controller tries again and its event's count goes up: a change of the instance, so a pass looks again.
    changes = kube.changes("default", NAME)
    for _ in range(200):
        if kube.changes("default", NAME) > changes:
            break
        await asyncio.sleep(0.05)
    assert kube.changes("default", NAME) > changes, "a repeated refusal is no change of the instance"

    await kube.core.delete_namespaced_resource_quota("compute", "default")
    await member_once(agent, "")  # the controller tried again, the pod exists: no refusal quoted

    sts = (await kube.statefulsets("default", NAME))[0]
    assert "" == kube.create_refused(sts, pod_present=False), "a refusal from before the pod was seen is history"
