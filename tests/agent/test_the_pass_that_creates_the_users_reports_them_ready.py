"""The agent's pass that creates a set's users looks at the set again before it reports: one report says both that
the users were created and that clusterAdmin reads the set (``usersReady``), which is what the federation waits
for. Reported at once and looked at again in the next pass, it was one report, one orchestrator pass and one
status write more per instance on its way to Health.

Runs the agent's own reconciler (``conftest.agent``) for a one-member set; the test plays the orchestrator: it
seals each spec and adds the set's config once the member's address is reported."""

from __future__ import annotations

import asyncio
import uuid

from fedstate.bus.names import InstanceKey, Kind
from fedstate.models.dataplane import Credentials, DataPlaneStatus, MemberSpec
from fedstate.models.multicloud import MultiCloudMongoDB
from fedstate.replset import WantedMember, desired_config
from fedstate.replset.lifecycle import ClusterPlan

from .conftest import CLUSTER, Agent, hand_over


async def test_the_pass_that_creates_the_users_reports_them_ready(agent: Agent) -> None:
    name = f"users-{uuid.uuid4().hex[:6]}"
    key = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, name)
    obj = MultiCloudMongoDB.model_validate(
        {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "generation": 1}, "spec": {}}
    )
    credentials = Credentials.generate()
    members = [MemberSpec(ordinal=0, name=f"{name}-m0")]

    await hand_over(agent, key, obj, ClusterPlan(CLUSTER, members, True, None), credentials)
    reports: list[DataPlaneStatus] = []
    configured = False
    for _ in range(400):
        await agent.reconciler.reconcile(key.dataplane_key(CLUSTER))
        entry = agent.observed.get(key.dataplane_key(CLUSTER))
        if entry is not None and (not reports or entry.value != reports[-1]):
            reports.append(entry.value)
        report = reports[-1] if reports else None
        address = report.addresses().get(0) if report is not None else None
        if address is not None and not configured:
            configured = True  # the orchestrator's part: the set's config, once the member's address is known
            config = desired_config(name, [WantedMember(0, address, True)], 1)
            await hand_over(agent, key, obj, ClusterPlan(CLUSTER, members, True, config), credentials)
        if report is not None and report.users_ready:
            break
        await asyncio.sleep(0.05)
    created = [r for r in reports if any(c.type == "userClusterAdmin" and c.status == "True" for c in r.conditions)]
    assert created, "the users were never created"
    assert created[0].users_ready, "the pass that created the users reported before it looked at them"
