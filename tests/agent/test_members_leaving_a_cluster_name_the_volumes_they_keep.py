"""Under ``storage.retentionPolicy: Retain`` a member that leaves a cluster keeps its data volume, as a StatefulSet
keeps a scaled-down pod's claim. Its ordinal never comes back, so nothing would ever use or delete that claim: the
agent names the claims that stay in one ``VolumesKept`` event, when members leave a running set (a scale-down, a
move to another cluster) and when the whole instance leaves the cluster (deleted, or failed over from it). Under
``Delete`` the volumes go, and nothing is said. Runs the agent's own code against the simulator's Kubernetes API."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import pytest

from fedstate.bus.events import recent
from fedstate.bus.names import InstanceKey, Kind
from fedstate.models.base import utcnow
from fedstate.models.dataplane import Credentials, DataPlaneSpec, DataPlaneStatus, InstanceRef, MemberSpec
from fedstate.models.multicloud import StorageSpec
from fedstate.reconcile import DONE
from fedstate_agent.memberset import VOLUMES_KEPT

from .conftest import CLUSTER, Agent

UID = "0f1e2d3c-aaaa-4000-8000-0000"


def spec(name: str, ordinals: list[int], retention: str = "Retain") -> DataPlaneSpec:
    return DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace="default", name=name, uid=UID),
        generation=1,
        repl_set_name=name,
        members=[MemberSpec(ordinal=i, name=f"{name}-m{i}") for i in ordinals],
        credentials=Credentials(
            key_file="k" * 64, root_password="r", cluster_admin_password="c", cluster_monitor_password="m"
        ),
        storage=StorageSpec(retention_policy=retention),
        revision=f"{name}-abc",
    )


@dataclass
class Told:
    """An event sink that keeps what it was told, as (reason, message)."""

    told: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, reason: str, message: str, warning: bool) -> None:
        self.told.append((reason, message))


async def claims(agent: Agent, name: str, count: int | None = None) -> list[str]:
    """The instance's claims that stay; with ``count``, once there are that many."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        found = await agent.reconciler.members.kube.kept_claims("default", name)
        if count is None or count == len(found):
            return found
        assert asyncio.get_running_loop().time() < deadline, f"{name} has claims {found}, not {count}"
        await asyncio.sleep(0.05)


@pytest.mark.timeout(60)
async def test_members_scaled_away_name_the_claims_they_leave_once(agent: Agent) -> None:
    members, sink = agent.reconciler.members, Told()
    await members.apply(spec("kept", [0, 1, 2]), sink)
    await claims(agent, "kept", 3)
    assert [] == sink.told, "nothing left yet"

    # Two passes at once: both find the leaving members in the informers, both delete them.
    await asyncio.gather(*(members.apply(spec("kept", [0]), sink) for _ in range(2)))

    assert [VOLUMES_KEPT] == [reason for reason, _ in sink.told], "told once"
    message = sink.told[0][1]
    assert "kept-m1, kept-m2 left this cluster" in message
    assert "data-0f1e2d3c-kept-m1-0, data-0f1e2d3c-kept-m2-0" in message
    assert "kept-m0-0" not in message, "the claim of the member that stays is not named"


@pytest.mark.timeout(60)
async def test_members_scaled_away_under_delete_take_their_claims_and_say_nothing(agent: Agent) -> None:
    members, sink = agent.reconciler.members, Told()
    await members.apply(spec("dropped", [0, 1], "Delete"), sink)
    await claims(agent, "dropped", 2)

    await members.apply(spec("dropped", [0], "Delete"), sink)

    await claims(agent, "dropped", 1)
    assert [] == sink.told


@pytest.mark.timeout(60)
async def test_an_instance_that_left_the_cluster_names_the_claims_it_leaves_once(agent: Agent) -> None:
    name = f"moved-{uuid.uuid4().hex[:6]}"  # the events stream outlives a test
    instance = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, name)
    key = instance.dataplane_key(CLUSTER)
    await agent.reconciler.members.apply(spec(name, [0, 1]))
    await claims(agent, name, 2)
    # What the agent last reported of it here; its data-plane spec is gone (a failover, or a delete).
    await agent.observed.write_through(key, DataPlaneStatus(cluster=CLUSTER, observed_at=utcnow()))

    deadline = asyncio.get_running_loop().time() + 30
    while await agent.reconciler.reconcile(key) != DONE:
        assert asyncio.get_running_loop().time() < deadline, "the tear-down never ended"
        await asyncio.sleep(0.2)
    assert DONE == await agent.reconciler.reconcile(key)  # again, with nothing left to tear down

    told = [e for e in await recent(agent.reconciler.bus.js, instance) if e.reason == VOLUMES_KEPT]
    assert 1 == len(told), told
    assert f"the members of {name} left this cluster" in told[0].message
    assert f"data-0f1e2d3c-{name}-m0-0, data-0f1e2d3c-{name}-m1-0" in told[0].message
    assert 2 == len(await claims(agent, name)), "the volumes themselves stay"
