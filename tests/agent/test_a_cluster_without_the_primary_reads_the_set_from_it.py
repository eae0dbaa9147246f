"""An agent whose cluster holds no PRIMARY of a set knows its own SECONDARYs by the hellos their watches hold. Once one
of them restarted (and only then: a member on its first run counts as it says itself), it reads the set — every
member's state and health, the config, the term — once, from the primary: one client, not one per member. Each client is two connections and a login; at 1,000 sets of 3 to 7 members, opening them was the
largest part of the agents' cost of a fleet's creation. When that primary cannot be read, the members here are
read themselves, so a report still carries a view of the set (a lost majority is judged from the survivors').

Runs two agents' own code (one per simulated cluster) against one set: m0 in member-1, m1 and m2 in member-2."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pymongo.errors import AutoReconnect

from fedstate.models.dataplane import Credentials, DataPlaneSpec, DataPlaneStatus, InstanceRef, MemberSpec
from fedstate.models.replicaset import RsConfig
from fedstate.replset import WantedMember, desired_config
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.memberset import MemberSet, Snapshot
from fedstate_agent.mongo import MemberState, MongoAdmin
from fedstate_agent.podshell import PodShell
from fedstate_sim.config import SimSettings, default_config
from fedstate_sim.world import World

from ..simapi import admin_client

NAMESPACE = "elsewhere"
NAME = "split"
CREDS = Credentials(
    key_file="k" * 64, root_password="root-1", cluster_admin_password="admin-1", cluster_monitor_password="monitor-1"
)
WHERE = {"member-1": [0], "member-2": [1, 2]}
PRIMARY_AND_TWO = ["PRIMARY", "SECONDARY", "SECONDARY"]


@dataclass
class Agent:
    cluster: str
    members: MemberSet
    spec: DataPlaneSpec


async def no_events(reason: str, message: str, warning: bool) -> None:
    return None


def spec(ordinals: list[int], *, initiator: bool) -> DataPlaneSpec:
    return DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace=NAMESPACE, name=NAME, uid=f"uid-{NAME}"),
        generation=1,
        repl_set_name=NAME,
        members=[MemberSpec(ordinal=o, name=f"{NAME}-m{o}") for o in ordinals],
        image="mongo:7.0",
        credentials=CREDS,
        revision="r1",
        initiator=initiator,
    )


def m0_elected(config: RsConfig) -> RsConfig:
    """Only m0 may be elected: the PRIMARY is in member-1, whatever the election timers do."""
    members = [m if m.id == 0 else m.model_copy(update={"priority": 0}) for m in config.members]
    return config.model_copy(update={"members": members})


async def pass_of(agent: Agent, previous: DataPlaneStatus | None = None) -> tuple[Snapshot, DataPlaneStatus]:
    """One pass of the agent's own apply, observe, act and report (``previous``: the report it last published)."""
    await agent.members.apply(agent.spec)
    snapshot = await agent.members.observe(agent.spec, previous)
    report = agent.members.report(agent.spec, snapshot, await agent.members.act(agent.spec, snapshot, no_events))
    return snapshot, report


@pytest.fixture
async def agents() -> AsyncIterator[dict[str, Agent]]:
    """Both agents of a set whose users exist, its secondaries synced and watched by their cluster's agent."""
    settings = SimSettings(election_timeout_millis=300, vip_octet=76)
    async with AsyncExitStack() as stack:
        world = await stack.enter_async_context(World(default_config(2, settings)))
        agents: dict[str, Agent] = {}
        for cluster, ordinals in WHERE.items():
            api = await stack.enter_async_context(admin_client(world, cluster))
            kube = KubeObjects(api)
            following = asyncio.ensure_future(kube.follow())
            stack.callback(following.cancel)
            await kube.ensure_namespace(NAMESPACE)
            mongo = MongoAdmin(PodShell(api))
            stack.push_async_callback(mongo.close)
            members = MemberSet(kube, mongo, cluster, world.clusters[cluster].vip)
            agents[cluster] = Agent(cluster, members, spec(ordinals, initiator=cluster == "member-1"))
        await until_users_exist(agents)
        yield agents


async def until_users_exist(agents: dict[str, Agent]) -> None:
    """Passes of both agents (as the orchestrator would hand them the config and, once the primary's agent has
    logged in as clusterAdmin, ``usersCreated``) until both secondaries are watched and synced, as the primary
    sees them too."""
    for _ in range(300):
        passes = {cluster: await pass_of(agent) for cluster, agent in agents.items()}
        addresses = {m.ordinal: m.address for snapshot, _ in passes.values() for m in snapshot.members if m.address}
        if len(addresses) == 3 and agents["member-1"].spec.replica_set_config is None:
            config = m0_elected(desired_config(NAME, [WantedMember(o, a, True) for o, a in addresses.items()], 1))
            for agent in agents.values():
                agent.spec = agent.spec.model_copy(update={"replica_set_config": config})
        there = agents["member-2"].members.mongo
        for ordinal in (1, 2):
            if ordinal in addresses:
                there.on_change(addresses[ordinal], lambda: None)  # as the agent's reconciler does
        if passes["member-1"][1].users_ready and not agents["member-1"].spec.users_created:
            for agent in agents.values():
                agent.spec = agent.spec.model_copy(update={"users_created": True})
        secondaries = [m for m in passes["member-2"][0].members if m.role == "SECONDARY"]
        # ... and the primary sees them synced too (its view lags theirs by a heartbeat)
        seen = sorted(row.state_str for row in passes["member-1"][1].replset)
        if agents["member-1"].spec.users_created and len(secondaries) == 2 and seen == PRIMARY_AND_TWO:
            if all(there.watching(m.address or "") for m in secondaries):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the set never had its users and two synced secondaries")


def logins_opened() -> float:
    return REGISTRY.get_sample_value("fedstate_agent_mongo_clients_opened_total", {"user": "clusterAdmin"}) or 0.0


async def fresh_look_from(there: Agent, primary_s: Agent, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``there`` forgets what it kept of the primary (in ``primary_s`` cluster) from the passes before; the
    addresses it negotiates a login with from now on are listed in the list returned."""
    primary_host = next(m.address for m in (await pass_of(primary_s))[0].members if m.ordinal == 0)
    assert primary_host is not None
    await there.members.mongo.forget({primary_host})
    negotiated: list[str] = []
    negotiate = there.members.mongo._negotiate

    async def counted(address: str, user: str) -> dict[str, Any]:
        negotiated.append(address)
        return await negotiate(address, user)

    monkeypatch.setattr(there.members.mongo, "_negotiate", counted)
    return negotiated


async def restarted_since(agent: Agent, ordinal: int) -> DataPlaneStatus:
    """The agent's report, as it would read had member ``ordinal`` run in another pod then (it restarted since)."""
    _, report = await pass_of(agent)
    members = [
        m.model_copy(update={"incarnation": "an-older-pod/0"}) if m.ordinal == ordinal else m for m in report.members
    ]
    return report.model_copy(update={"members": members})


async def test_members_on_their_first_run_are_counted_as_they_say_themselves(
    agents: dict[str, Agent], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster without the primary whose members never restarted (a set being created) asks the primary nothing:
    no login, no negotiation, and its members are reported as they say themselves."""
    there = agents["member-2"]
    negotiated = await fresh_look_from(there, agents["member-1"], monkeypatch)
    before = logins_opened()
    _, first = await pass_of(there)
    _, report = await pass_of(there, first)
    assert (before, []) == (logins_opened(), negotiated)
    assert {1: "SECONDARY", 2: "SECONDARY"} == {m.ordinal: m.role for m in report.members}
    assert {1: "", 2: ""} == {m.ordinal: m.seen_by_primary for m in report.members}
    assert ([], False) == (report.replset, report.users_ready)


async def test_after_a_restart_here_the_set_is_read_once_from_the_primary_elsewhere(
    agents: dict[str, Agent], monkeypatch: pytest.MonkeyPatch
) -> None:
    there = agents["member-2"]
    negotiated = await fresh_look_from(there, agents["member-1"], monkeypatch)
    previous = await restarted_since(there, 1)
    before = logins_opened()
    snapshot, report = await pass_of(there, previous)

    assert 1 == logins_opened() - before, "one login, to the primary: none to the SECONDARYs here"
    assert [] == negotiated, "the set's users exist (usersCreated): the login is not negotiated first"
    assert {1: "SECONDARY", 2: "SECONDARY"} == {m.ordinal: m.role for m in report.members}
    assert {1: "SECONDARY", 2: "SECONDARY"} == {m.ordinal: m.seen_by_primary for m in report.members}
    assert [(0, "PRIMARY"), (1, "SECONDARY"), (2, "SECONDARY")] == sorted((r.id, r.state_str) for r in report.replset)
    assert report.rs_config is not None and [0, 1, 2] == [m.id for m in report.rs_config.members]
    assert report.users_ready, "clusterAdmin logged in (on the primary)"
    assert all(not state.users_ready for state in snapshot.states.values()), "each SECONDARY known by its hello"

    again = logins_opened()
    _, steady = await pass_of(there, report)
    assert again == logins_opened(), "nothing changed here: the primary is not asked again"
    assert report.replset == steady.replset and report.rs_config == steady.rs_config


async def test_a_primary_that_cannot_be_read_leaves_the_members_here_read_themselves(
    agents: dict[str, Agent], monkeypatch: pytest.MonkeyPatch
) -> None:
    there = agents["member-2"]

    async def unreachable(primary: str, credentials: Credentials, users_created: bool = False) -> MemberState:
        raise AutoReconnect(f"{primary}: connection refused")  # a partition between the clusters, say

    monkeypatch.setattr(there.members.mongo, "read_primary", unreachable)
    primary_host = next(m.address for m in (await pass_of(agents["member-1"]))[0].members if m.ordinal == 0)
    await there.members.mongo.forget({primary_host})
    snapshot, report = await pass_of(there, await restarted_since(there, 2))

    assert {1: "SECONDARY", 2: "SECONDARY"} == {m.ordinal: m.role for m in report.members}
    assert all(state.users_ready for state in snapshot.states.values()), "each read itself, as clusterAdmin"
    assert ["PRIMARY"] == [r.state_str for r in report.replset if r.id == 0], "their own view of the set"
    assert report.rs_config is not None and 1 == report.rs_config.version


async def test_the_primary_elsewhere_is_not_tried_before_the_set_s_users_are_known(
    agents: dict[str, Agent], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until the federation says the set's users exist (or this agent saw them), a cluster without the primary
    reports its members by their hellos and does not try the primary, even after a restart here: no negotiation,
    no login. The users may well exist by then; trying it put a login on a quiet create's way."""
    there = agents["member-2"]
    there.spec = there.spec.model_copy(update={"users_created": False})
    negotiated = await fresh_look_from(there, agents["member-1"], monkeypatch)
    previous = await restarted_since(there, 1)
    before = logins_opened()
    _, report = await pass_of(there, previous)
    assert (before, []) == (logins_opened(), negotiated)
    assert {1: "SECONDARY", 2: "SECONDARY"} == {m.ordinal: m.role for m in report.members}
    assert ([], False) == (report.replset, report.users_ready)


async def test_the_primary_here_is_known_by_its_hello_until_the_set_s_users_are_known(
    agents: dict[str, Agent], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent of the primary's own cluster does not negotiate a login with it either while the set's users are
    not known (no ``usersCreated``, none seen by this agent in that mongod): each pass while the secondaries
    synced paid a connection for it. Once this agent sees clusterAdmin there (it created the users, or listed
    them as root), the primary's view is read again."""
    here = agents["member-1"]
    here.spec = here.spec.model_copy(update={"users_created": False})
    primary = next(m.address for m in (await pass_of(here))[0].members if m.ordinal == 0)
    assert primary is not None
    negotiated = await fresh_look_from(here, here, monkeypatch)
    await until_watched(here.members.mongo, primary)

    snapshot = await here.members.observe(here.spec)
    assert [] == negotiated, "no login negotiated with the primary"
    assert ("PRIMARY", False) == (snapshot.states[0].role, snapshot.states[0].users_ready)

    here.members.mongo._seen_user(primary, "clusterAdmin")  # as creating or listing the users does
    read = (await here.members.observe(here.spec)).states[0]
    assert read.users_ready and ["PRIMARY", "SECONDARY", "SECONDARY"] == [row.state_str for row in read.view]


async def until_watched(mongo: MongoAdmin, address: str) -> None:
    """Once this agent's watch of the member at ``address`` holds its hello, as the reconciler's would."""
    mongo.on_change(address, lambda: None)
    for _ in range(100):
        if mongo.watching(address):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the watch of {address} never answered")


async def test_a_new_config_is_read_from_the_primary_elsewhere_though_no_role_here_changed(
    agents: dict[str, Agent],
) -> None:
    """A reconfig changes no member's role here, yet the members here learn the new config by heartbeat and their
    hellos name its version: the initiator's agent, here without the primary, reads the set again from it, and its
    report carries the new config. A report that kept the old one kept the orchestrator asking for the reconfig
    already made (the chaos test, seed 834775: an instance never settled)."""
    there, primary_s = agents["member-2"], agents["member-1"]
    there.spec = there.spec.model_copy(update={"initiator": True})  # the primary moved out of its cluster, say
    _, read = await pass_of(there, await restarted_since(there, 1))
    assert read.rs_config is not None and 1 == read.rs_config.version
    config = primary_s.spec.replica_set_config
    assert config is not None
    primary_s.spec = primary_s.spec.model_copy(update={"replica_set_config": config.model_copy(update={"version": 2})})
    await pass_of(primary_s)  # its agent installs version 2 on the primary

    for _ in range(100):
        _, report = await pass_of(there, read)
        if report.rs_config is not None and report.rs_config.version == 2:
            break
        await asyncio.sleep(0.05)
    assert report.rs_config is not None and 2 == report.rs_config.version, "the report still names the old config"
    assert {1: "SECONDARY", 2: "SECONDARY"} == {m.ordinal: m.role for m in report.members}
