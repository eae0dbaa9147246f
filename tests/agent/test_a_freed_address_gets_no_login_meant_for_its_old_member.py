"""A NodePort freed by a deleted instance goes to the next Service that asks for one, and with it the address
``VIP:NodePort``. The new member there has none of the old one's users: an agent that kept a client logged in
to the old member (its own, or a primary in another cluster) must not try that login on the new one. Each
failed login is an "Authentication failed" line in mongod's log for operators to chase (seen in CI: an
instance deleted, the next one given its primary's port 34 s later, with the same test credentials).

Runs the agent's own code against one simulated cluster; the simulator logs every failed login as mongod does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from fedstate.models.dataplane import Credentials, DataPlaneSpec, DataPlaneStatus, InstanceRef, MemberSpec
from fedstate.replset import WantedMember, desired_config
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.manifests import render_all
from fedstate_agent.memberset import MemberSet
from fedstate_agent.mongo import MongoAdmin, NotAuthenticated, PyMongoError
from fedstate_agent.podshell import PodShell
from fedstate_agent.reconciler import FEDERATED_KIND
from fedstate_sim.config import SimSettings, default_config
from fedstate_sim.world import World

from ..simapi import admin_client

NAMESPACE = "reuse"
# Shared by both instances, as in the suite's tests: only then would the old login be accepted anywhere.
CREDS = Credentials(
    key_file="k" * 64, root_password="root-1", cluster_admin_password="admin-1", cluster_monitor_password="monitor-1"
)


def spec(name: str) -> DataPlaneSpec:
    return DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace=NAMESPACE, name=name, uid=f"uid-{name}"),
        generation=1,
        repl_set_name=name,
        members=[MemberSpec(ordinal=0, name=f"{name}-m0")],
        image="mongo:7.0",
        credentials=CREDS,
        revision="r1",
    )


@dataclass
class Agents:
    here: MemberSet  # the agent of the member's own cluster
    elsewhere: MemberSet  # an agent of another cluster of the same set: it asks the primary how it sees its members
    kube: KubeObjects


async def no_events(reason: str, message: str, warning: bool) -> None:
    return None


@pytest.fixture
async def agents() -> AsyncIterator[Agents]:
    settings = SimSettings(election_timeout_millis=300, vip_octet=75)
    async with World(default_config(1, settings)) as world, admin_client(world) as api:
        kube = KubeObjects(api)
        following = asyncio.ensure_future(kube.follow())
        await kube.ensure_namespace(NAMESPACE)
        vip = world.clusters["member-1"].vip
        here = MemberSet(kube, MongoAdmin(PodShell(api)), "member-1", vip)
        elsewhere = MemberSet(kube, MongoAdmin(PodShell(api)), "member-2", vip)
        yield Agents(here, elsewhere, kube)
        following.cancel()
        await here.mongo.close()
        await elsewhere.mongo.close()


async def healthy(agent: MemberSet, name: str) -> tuple[DataPlaneStatus, str]:
    """Passes of the agent's own apply, observe and act until the one-member set has a primary with its users:
    the last report and the member's address."""
    wanted = spec(name)
    for _ in range(200):
        await agent.apply(wanted)
        snapshot = await agent.observe(wanted)
        address = snapshot.members[0].address if snapshot.members else None
        if address is not None and wanted.replica_set_config is None:
            config = desired_config(name, [WantedMember(0, address, True)], 1)
            wanted = wanted.model_copy(update={"replica_set_config": config, "initiator": True})
        report = agent.report(wanted, snapshot, await agent.act(wanted, snapshot, no_events))
        if address is not None and report.users_ready and snapshot.own_primary == 0:
            return report, address
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never had a primary with its users")


async def new_member_at(agents: Agents, name: str, address: str) -> None:
    """Another instance whose Service asks for the freed NodePort: its member answers at the old address."""
    port = int(address.rsplit(":", 1)[1])
    for obj in render_all(spec(name)):
        if obj["kind"] == "Service" and obj["spec"].get("type") == "NodePort":
            obj["spec"]["ports"] = [{**p, "nodePort": port} for p in obj["spec"]["ports"]]
        await agents.kube.apply(obj)


async def answers_new(agent: MongoAdmin, address: str) -> bool:
    """The new member answers there: not initiated, no users."""
    try:
        return (await agent.observe(address, CREDS)).role == "STARTUP"
    except PyMongoError:  # not listening yet
        return False


async def refused(agent: MongoAdmin, address: str) -> bool:
    """Does the primary's view stay closed to clusterAdmin at ``address`` (no such user there)?"""
    try:
        await agent.read_primary(address, CREDS)
    except NotAuthenticated:
        return True
    except PyMongoError:  # a client of the old member finds its connection closed first
        return False
    raise AssertionError(f"clusterAdmin logged in on {address}")


async def until(check: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def failed_logins(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "authentication of" in r.getMessage()]


async def test_a_deleted_instance_s_addresses_are_forgotten_by_every_agent_of_its_set(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fedstate_sim")
    report, address = await healthy(agents.here, "old")
    agents.here.mongo.on_change(address, lambda: None)  # its own member: the agent watches it
    primary_view = await agents.elsewhere.mongo.read_primary(address, CREDS, users_created=True)
    assert ["PRIMARY"] == [row.state_str for row in primary_view.view]
    assert [] == failed_logins(caplog)

    # Deleted: each agent tears down what it has of the instance, with its last report of it. The other
    # cluster's report names no member there, only the set's (its config, the primary's view).
    assert await agents.here.tear_down(NAMESPACE, "old", FEDERATED_KIND, report) > 0
    await agents.elsewhere.tear_down(NAMESPACE, "old", FEDERATED_KIND, report.model_copy(update={"members": []}))
    await until(lambda: _no_service(agents.kube, "old"))

    await new_member_at(agents, "new", address)
    await until(lambda: answers_new(agents.here.mongo, address))
    await until(lambda: refused(agents.elsewhere.mongo, address))
    assert [] == failed_logins(caplog), "an agent tried a login on a member that never had the user"


async def test_a_new_mongod_behind_a_watched_address_is_not_sent_the_old_one_s_login(
    agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    """Even when nothing told the agent the old member went (its objects removed behind its back, or a member
    back on an empty volume), its watch names the mongod process that answers: a client logged in to another
    one is not used."""
    caplog.set_level(logging.INFO, logger="fedstate_sim")
    _, address = await healthy(agents.here, "old")
    agents.here.mongo.on_change(address, lambda: None)
    assert (await agents.here.mongo.observe(address, CREDS)).users_ready

    await agents.kube.delete_instance(NAMESPACE, "old", FEDERATED_KIND)  # not through the agent's tear-down
    await until(lambda: _no_service(agents.kube, "old"))
    await until(lambda: _not_watching(agents.here.mongo, address))
    await new_member_at(agents, "new", address)
    await until(lambda: answers_new(agents.here.mongo, address))
    assert [] == failed_logins(caplog), "the agent tried its old login on a member that never had the user"


async def _no_service(kube: KubeObjects, name: str) -> bool:
    return not await kube.services(NAMESPACE, name)


async def _not_watching(agent: MongoAdmin, address: str) -> bool:
    return not agent.watching(address)
