"""The agent's replica-set admin against simulated members started from its own manifests (keyFile on):
initiate and the first user through pods/exec, users and password rotation, reconfig with maxTimeMS,
step-down, featureCompatibilityVersion — every network command authenticated."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes.aio import client
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError

from fedstate.models.dataplane import Credentials, DataPlaneSpec, InstanceRef, MemberObservation, MemberSpec
from fedstate.models.replicaset import RsConfig
from fedstate.replset import WantedMember, desired_config
from fedstate_agent import mongo as mongo_module
from fedstate_agent.kubeobjects import KubeObjects
from fedstate_agent.manifests import render_all
from fedstate_agent.memberset import Snapshot, needs_force
from fedstate_agent.memberwatch import MemberWatch
from fedstate_agent.mongo import (
    CLUSTER_ADMIN_USER,
    ROOT_USER,
    MemberState,
    MongoAdmin,
    NotAuthenticated,
    PodRef,
    reconfig_document,
)
from fedstate_agent.podshell import PodShell
from fedstate_sim.config import SimSettings, default_config
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.world import World

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}  # the simulator's cluster-admin

VIP_OCTET = 74
NAMESPACE = "admin-test"
CREDS = Credentials(
    key_file="k" * 64, root_password="root-1", cluster_admin_password="admin-1", cluster_monitor_password="monitor-1"
)


@dataclass
class Members:
    admin: MongoAdmin
    addresses: list[str]
    pods: list[PodRef]
    version: str = "7.0.0"
    api: client.ApiClient | None = None  # the simulated cluster's API, as its admin


async def wait_for(check: Callable[[], Awaitable[object]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        try:
            if await check():
                return
        except Exception:  # not there yet (no Service port, no member listening)
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def instance_spec(credentials: Credentials = CREDS) -> DataPlaneSpec:
    return DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace=NAMESPACE, name="rs", uid="0123456789"),
        generation=1,
        repl_set_name="rs",
        members=[MemberSpec(ordinal=i, name=f"rs-m{i}") for i in range(3)],
        image="mongo:7.0",
        credentials=credentials,
        revision="r1",
    )


@pytest.fixture
async def members(request: pytest.FixtureRequest) -> AsyncIterator[Members]:
    """Three members of one simulated cluster, from the agent's manifests, not initiated, no users; a test's
    indirect parameter sets the simulated replication lag in milliseconds."""
    lag = getattr(request, "param", 10)
    # A module that borrows this fixture names an octet of its own: make test runs modules side by side.
    octet = getattr(request.module, "VIP_OCTET", VIP_OCTET)
    settings = SimSettings(election_timeout_millis=400, vip_octet=octet, replication_lag_millis=lag)
    async with World(default_config(1, settings)) as world:
        cluster = world.clusters["member-1"]
        async with client.ApiClient(client.Configuration(host=cluster.api_url, api_key=ADMIN)) as api:
            kube = KubeObjects(api)
            following = asyncio.ensure_future(kube.follow())
            await kube.ensure_namespace(NAMESPACE)
            for obj in render_all(instance_spec()):
                await kube.apply(obj)

            async def services() -> list[dict[str, Any]]:
                return await kube.services(NAMESPACE, "rs")

            await wait_for(lambda: _all_three(services()))  # the informer lags our writes
            ports = {s["metadata"]["name"]: s["spec"]["ports"][0].get("nodePort") for s in await services()}
            addresses = [f"{cluster.vip}:{ports[f'rs-m{i}']}" for i in range(3)]
            admin = MongoAdmin(PodShell(api))
            for address in addresses:
                await wait_for(lambda a=address: admin.observe(a, CREDS))  # type: ignore[misc]
            yield Members(admin, addresses, [PodRef(NAMESPACE, f"rs-m{i}-0") for i in range(3)], api=api)
            following.cancel()
            await admin.close()


async def _all_three(found: Awaitable[list[dict[str, Any]]]) -> bool:
    return len(await found) == 3


def config(addresses: list[str], voting: int = 3, version: int = 1) -> RsConfig:
    return desired_config("rs", [WantedMember(i, a, i < voting) for i, a in enumerate(addresses)], version)


async def primary_of(m: Members) -> int:
    """The index of the member that says it is PRIMARY (its hello is enough)."""
    for index, address in enumerate(m.addresses):
        if (await m.admin.observe(address, CREDS, users_expected=False)).role == "PRIMARY":
            return index
    raise AssertionError("no primary")


async def initiated(m: Members) -> int:
    """Initiate from the first member's pod; the index of the primary once there is one."""
    assert await m.admin.initiate(m.pods[0], m.version, config(m.addresses))

    async def has_primary() -> bool:
        # As a pass before the set's users exist asks: no login tried on the new PRIMARY.
        return "PRIMARY" in [(await m.admin.observe(a, CREDS, users_expected=False)).role for a in m.addresses]

    await wait_for(has_primary)
    return await primary_of(m)


async def initiated_with_users(m: Members) -> str:
    primary = await initiated(m)
    assert await m.admin.create_first_user(m.addresses[primary], m.pods[primary], m.version, CREDS)
    assert ["created clusterAdmin", "created clusterMonitor"] == await m.admin.ensure_users(
        m.addresses[primary], CREDS, monitor=True
    )
    return m.addresses[primary]


async def can_log_in(host: str, user: str, password: str) -> bool:
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        host, directConnection=True, username=user, password=password, serverSelectionTimeoutMS=2000
    )
    try:
        await mongo.admin.command("ping")
        return True
    except OperationFailure:
        return False
    finally:
        await mongo.close()


async def test_before_any_user_a_member_is_known_by_its_hello(members: Members) -> None:
    """Uninitiated, then PRIMARY with no user: clusterAdmin cannot log in, so only hello's role is known."""
    before = await members.admin.observe(members.addresses[0], CREDS)
    assert (False, "STARTUP", False, None) == (before.initiated, before.role, before.users_ready, before.config)
    primary = await initiated(members)
    seen = await members.admin.observe(members.addresses[primary], CREDS)
    assert (True, "PRIMARY", False, []) == (seen.initiated, seen.role, seen.users_ready, seen.view)


async def test_before_any_user_the_members_hellos_name_the_primary_to_create_users_on(members: Members) -> None:
    """The initiator's cluster may hold no primary (it failed just after replSetInitiate: chaos seed 113880),
    and no view can be read before clusterAdmin exists: its agent learns the primary elsewhere, on which it
    creates clusterAdmin, from its own members' hellos."""
    primary = await initiated(members)
    await wait_for(lambda: _caught_up(members))
    elsewhere = {i: await members.admin.observe(a, CREDS) for i, a in enumerate(members.addresses) if i != primary}
    assert {members.addresses[primary]} == {state.hello_primary for state in elsewhere.values()}
    assert all(not state.users_ready and not state.view for state in elsewhere.values())
    observed = [
        MemberObservation(ordinal=i, name=f"rs-m{i}", address=members.addresses[i], ready=True) for i in elsewhere
    ]
    assert members.addresses[primary] == Snapshot(observed, elsewhere, {}).primary


async def test_bootstrap_is_idempotent(members: Members) -> None:
    """A second initiate and a second first-user are harmless no-ops (AlreadyInitialized; root logs in)."""
    primary = await initiated_with_users(members)
    index = members.addresses.index(primary)
    assert not await members.admin.initiate(members.pods[index], members.version, config(members.addresses))
    assert not await members.admin.create_first_user(primary, members.pods[index], members.version, CREDS)
    state = await members.admin.observe(primary, CREDS)
    assert (True, "PRIMARY", 3) == (state.users_ready, state.role, len(state.view))


async def test_the_primary_s_view_carries_optimes_the_election_and_its_term(members: Members) -> None:
    """What the federation's election metrics are computed from: when the PRIMARY was elected, and the term
    (one election so far), with the time the view was read."""
    primary = await initiated_with_users(members)
    state = await members.admin.observe(primary, CREDS)
    me = next(row for row in state.view if row.host == primary)
    assert (1, "PRIMARY") == (state.term, me.state_str)
    assert me.election_date is not None and me.election_date.tzinfo is not None
    assert state.view_read_at is not None and me.election_date <= state.view_read_at
    assert state.optime is not None and (1, me.optime_seconds) == (state.optime.t, state.optime.ts), (
        "its own optime, which picks the freshest survivor after a lost majority"
    )


async def test_a_root_the_agent_cannot_log_in_as_is_left_alone(members: Members) -> None:
    """If root holds a password the agent does not know, the shell finds the localhost exception closed:
    nothing is created, nothing fails, and root is not exec'd for again."""
    primary = await initiated_with_users(members)
    index = members.addresses.index(primary)
    stranger = CREDS.model_copy(update={"root_password": "not-it"})
    fresh = MongoAdmin(members.admin.shell)
    assert not await fresh.create_first_user(primary, members.pods[index], members.version, stranger)
    assert not await fresh.create_first_user(primary, members.pods[index], members.version, stranger)


async def test_each_user_has_its_own_password_and_root_rotates(members: Members) -> None:
    primary = await initiated_with_users(members)
    assert [] == await members.admin.ensure_users(primary, CREDS, monitor=True), "idempotent"
    assert await can_log_in(primary, "clusterAdmin", "admin-1")
    assert await can_log_in(primary, "clusterMonitor", "monitor-1")
    assert not await can_log_in(primary, "clusterAdmin", "root-1")

    rotated = CREDS.model_copy(update={"root_password": "root-2", "previous_root_password": "root-1"})
    assert ["rotated the password of root", "dropped clusterMonitor"] == await members.admin.ensure_users(
        primary, rotated, monitor=False
    )
    assert await can_log_in(primary, "root", "root-2")
    assert not await can_log_in(primary, "root", "root-1")
    assert [] == await members.admin.ensure_users(primary, rotated, monitor=False)
    # A fresh agent (no memory of what worked) still observes and gets in with the new password.
    fresh = MongoAdmin(members.admin.shell)
    assert "PRIMARY" == (await fresh.observe(primary, rotated)).role
    assert [] == await fresh.ensure_users(primary, rotated, monitor=False)


async def test_root_rotates_after_changes_faster_than_the_agent(members: Members) -> None:
    """root-1 → root-2 → root-3 before the agent ran once: the members still hold root-1, which the
    orchestrator carries as an older password, so the agent gets in and rotates straight to root-3."""
    primary = await initiated_with_users(members)
    twice = CREDS.model_copy(update={"root_password": "root-3"}).with_earlier_root_passwords(["root-2", "root-1"])
    fresh = MongoAdmin(members.admin.shell)  # an agent that never saw root-2
    assert ["rotated the password of root"] == await fresh.ensure_users(primary, twice, monitor=True)
    assert await can_log_in(primary, "root", "root-3")
    assert not await can_log_in(primary, "root", "root-1")


@pytest.mark.parametrize("members", [1500], indirect=True)
async def test_root_waits_for_no_majority_and_the_users_after_it_wait_for_one(members: Members) -> None:
    """root answers as soon as the primary holds it: the secondaries replicate 1.5 s behind, and no one holds it yet.
    The users created after it as root wait for a majority, and that majority holds root too: one wait, not two."""
    primary = members.addresses[await initiated(members)]
    secondaries = [a for a in members.addresses if a != primary]

    async def synced() -> bool:
        # Past their initial sync, which copies all the primary holds at its end, root included, with no lag.
        roles = [(await members.admin.observe(a, CREDS, users_expected=False)).role for a in secondaries]
        return roles == ["SECONDARY"] * len(secondaries)

    await wait_for(synced)
    index = members.addresses.index(primary)
    assert await members.admin.create_first_user(primary, members.pods[index], members.version, CREDS)
    assert not [s for s in secondaries if await can_log_in(s, ROOT_USER, "root-1")], "root waited for a secondary"
    await members.admin.ensure_users(primary, CREDS, monitor=False)
    holding = [s for s in secondaries if await can_log_in(s, CLUSTER_ADMIN_USER, "admin-1")]
    assert holding, "clusterAdmin did not wait for a majority"
    assert all([await can_log_in(s, ROOT_USER, "root-1") for s in holding])


async def test_users_wait_for_the_first_user(members: Members) -> None:
    """Without root, ensure_users does not try the localhost exception from the network: it says who makes root."""
    primary = members.addresses[await initiated(members)]
    with pytest.raises(OperationFailure) as refused:
        await members.admin.ensure_users(primary, CREDS, monitor=False)
    assert "through pods/exec" in str(refused.value)


async def test_reconfig_keeps_settings_and_is_applied_once(members: Members) -> None:
    primary = await initiated_with_users(members)
    state = await members.admin.observe(primary, CREDS)
    assert state.config is not None
    demoted = config(members.addresses, voting=2, version=state.config.version + 1)
    assert await members.admin.reconfig(primary, CREDS, demoted)
    assert not await members.admin.reconfig(primary, CREDS, demoted)
    after = await members.admin.observe(primary, CREDS)
    assert after.config is not None and [1, 1, 0] == [m.votes for m in after.config.members]


def test_the_reconfig_document_keeps_fields_it_does_not_manage() -> None:
    current = {
        "_id": "rs",
        "version": 4,
        "term": 2,
        "settings": {"replicaSetId": "x", "electionTimeoutMillis": 5000},
        "members": [{"_id": 0, "host": "a:1", "votes": 1, "priority": 1, "tags": {"dc": "1"}, "hidden": False}],
    }
    wanted = desired_config("rs", [WantedMember(0, "a:1", False), WantedMember(1, "b:1", False)], 5)
    document = reconfig_document(current, wanted)
    assert {"replicaSetId": "x", "electionTimeoutMillis": 5000} == document["settings"]
    assert "term" not in document
    assert {"_id": 0, "host": "a:1", "votes": 0, "priority": 0, "tags": {"dc": "1"}, "hidden": False} == document[
        "members"
    ][0]


async def test_step_down_hands_the_primary_role_over(members: Members) -> None:
    primary = await initiated_with_users(members)

    async def caught_up() -> bool:
        states = [(await members.admin.observe(a, CREDS)).role for a in members.addresses]
        return states.count("SECONDARY") == 2

    await wait_for(caught_up)
    await members.admin.step_down(primary, CREDS)
    assert "PRIMARY" != (await members.admin.observe(primary, CREDS)).role


async def test_feature_compatibility_version_is_raised_once(members: Members) -> None:
    primary = await initiated_with_users(members)
    await members.admin._as_cluster_admin(primary, CREDS, {"setFeatureCompatibilityVersion": "6.0", "confirm": True})
    assert "6.0" == await members.admin.feature_compatibility_version(primary, CREDS)
    assert "7.0" == await members.admin.ensure_fcv(primary, CREDS, "7.0")
    assert "7.0" == await members.admin.feature_compatibility_version(primary, CREDS)


async def connections(host: str) -> int:
    """How many connections the member holds open, asked over one short-lived client of our own (polling:
    no round-trip monitor, so it always adds the same two, its monitor's and the command's)."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        host,
        directConnection=True,
        username="root",
        password="root-1",
        serverSelectionTimeoutMS=2000,
        serverMonitoringMode="poll",
    )
    try:
        return int((await mongo.admin.command("serverStatus"))["connections"]["current"])
    finally:
        await mongo.close()


async def test_a_steady_set_holds_no_connection_to_a_primary_elsewhere(
    members: Members, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a set is steady, the agent keeps only the clients that watch its own members: none to a primary
    in another cluster, and users and FCV it has just checked are not asked for again."""
    # A member notices a closed client when its awaitable hello answers (mongod too): make that soon.
    monkeypatch.setattr(mongo_module, "HEARTBEAT_MS", 500)
    primary = await initiated_with_users(members)
    without = await connections(primary)
    elsewhere = MongoAdmin(members.admin.shell)  # the agent of another cluster: the primary is not one of its own
    await elsewhere.ensure_users(primary, CREDS, monitor=True)
    await elsewhere.feature_compatibility_version(primary, CREDS)
    await elsewhere.read_primary(primary, CREDS, users_created=True)
    assert await connections(primary) > without

    await elsewhere.settle(set(), primary, idle_for=2.0)  # just used: a set busy again soon keeps its clients
    assert await connections(primary) > without
    # Closed once unused that long, without being asked again: a look at a steady set would report its
    # members' newer optimes (an idle PRIMARY's no-op writes) every time it closed clients.
    await wait_for(lambda: _equals(connections(primary), without), timeout=30)  # a loaded machine closes slowly
    assert [] == await elsewhere.ensure_users(primary, CREDS, monitor=True)
    assert "7.0" == await elsewhere.feature_compatibility_version(primary, CREDS)
    assert without == await connections(primary), "a steady set asks its primary nothing"
    await elsewhere.close()


async def _equals(found: Awaitable[int], wanted: int) -> bool:
    return await found == wanted


async def test_a_member_s_watch_tells_of_a_step_down_at_once_and_of_nothing_while_idle(members: Members) -> None:
    """The watch holds an awaitable hello: quiet while the member does not change (its hello is answered
    every watch period, with the same topologyVersion), a call at once when it steps down."""
    primary = await initiated_with_users(members)
    told: list[float] = []
    watch = MemberWatch(primary, lambda: told.append(asyncio.get_running_loop().time()), watch_seconds=0.3)
    watch.start()
    try:
        await wait_for(lambda: _true(watch.token is not None))
        await asyncio.sleep(1.0)  # three answers with nothing new
        assert [] == told

        await wait_for(lambda: _caught_up(members))
        stepped = asyncio.get_running_loop().time()
        await members.admin.step_down(primary, CREDS)
        await wait_for(lambda: _true(bool(told)), timeout=2.0)
        assert told[0] - stepped < 0.5, "told within the awaitable hello, not a period later"
    finally:
        await watch.stop()


async def _true(value: bool) -> bool:
    return value


async def _caught_up(m: Members) -> bool:
    roles = [(await m.admin.observe(a, CREDS)).role for a in m.addresses]
    return roles.count("SECONDARY") == 2


async def test_a_steady_member_is_asked_nothing_until_its_watch_sees_a_change(
    members: Members, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mongo_module, "HEARTBEAT_MS", 500)
    primary = await initiated_with_users(members)
    agent = MongoAdmin(members.admin.shell)
    agent.on_change(primary, lambda: None)
    await asyncio.sleep(0.5)  # the watch's first answer
    assert "PRIMARY" == (await agent.observe(primary, CREDS, reuse=True)).role
    await agent.settle({primary}, primary, idle_for=0)
    settled = await steady_connections(primary)

    assert "PRIMARY" == (await agent.observe(primary, CREDS, reuse=True)).role
    await asyncio.sleep(0.6)
    assert settled == await connections(primary), "asked nothing: the watch saw no change"

    await wait_for(lambda: _caught_up(members))
    await members.admin.step_down(primary, CREDS)
    await wait_for(lambda: _changed_role(agent, primary))
    await agent.close()


async def test_past_the_recheck_period_only_the_primary_is_read_again(
    members: Members, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SECONDARY that names its PRIMARY is known by the hello its watch holds, then and past the recheck period
    (the set's view is read from the primary); a primary's state is read again once older than the recheck
    period, as are the set's users and FCV, which no watch sees change. Rechecking every member cost a login
    each: 5 % of a core at 1,000 sets."""
    monkeypatch.setattr(mongo_module, "HEARTBEAT_MS", 500)
    primary = await initiated_with_users(members)
    await wait_for(lambda: _caught_up(members))
    agent = MongoAdmin(members.admin.shell, recheck_seconds=1.0)
    read: list[str] = []
    observe = agent._observe

    async def counted(address: str, credentials: Credentials, users_there: bool = False) -> MemberState:
        read.append(address)
        return await observe(address, credentials, users_there)

    monkeypatch.setattr(agent, "_observe", counted)
    for address in members.addresses:
        agent.on_change(address, lambda: None)
    await wait_for(lambda: _true(all(agent.watching(a) for a in members.addresses)))
    roles = [(await agent.observe(address, CREDS, reuse=True)).role for address in members.addresses]
    assert ["PRIMARY", "SECONDARY", "SECONDARY"] == sorted(roles)
    assert [primary] == read

    await asyncio.sleep(1.2)  # past the recheck period, nothing moved
    read.clear()
    for address in members.addresses:
        await agent.observe(address, CREDS, reuse=True)
    assert [primary] == read
    await agent.close()


async def test_past_the_recheck_period_users_in_place_cost_no_login_and_one_dropped_is_created_again(
    members: Members, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recheck of a steady set's users asks the primary's hello which of them exist (as drivers do before a
    login), so users in place cost no login as root; a user dropped by hand is still found and created again."""
    primary = await initiated_with_users(members)
    agent = MongoAdmin(members.admin.shell, recheck_seconds=1.0)
    assert [] == await agent.ensure_users(primary, CREDS, monitor=True)
    as_root: list[dict[str, Any]] = []
    run_as_root = agent._as_root

    async def counted(address: str, credentials: Credentials, command: dict[str, Any]) -> dict[str, Any]:
        as_root.append(command)
        return await run_as_root(address, credentials, command)

    monkeypatch.setattr(agent, "_as_root", counted)
    await asyncio.sleep(1.2)
    assert [] == await agent.ensure_users(primary, CREDS, monitor=True)
    assert [] == as_root

    by_hand: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        primary, directConnection=True, username="root", password="root-1", serverSelectionTimeoutMS=2000
    )
    await by_hand.admin.command("dropUser", "clusterMonitor")
    await by_hand.close()
    assert [] == await agent.ensure_users(primary, CREDS, monitor=True), "trusted within the period"
    await asyncio.sleep(1.2)
    assert ["created clusterMonitor"] == await agent.ensure_users(primary, CREDS, monitor=True)
    await agent.close()


async def steady_connections(host: str) -> int:
    """The member's connection count once closed clients are gone: two readings in a row agree."""
    last = -1
    for _ in range(40):
        now = await connections(host)
        if now == last:
            return now
        last = now
        await asyncio.sleep(0.6)
    raise AssertionError("connections never settled")


async def _changed_role(agent: MongoAdmin, address: str) -> bool:
    return (await agent.observe(address, CREDS, reuse=True)).role != "PRIMARY"


class StallingProxy:
    """A TCP hop in front of a member: forwards, then (``stall``) leaves new connections unanswered as a loaded
    host does, then (``cut``) drops every connection as a dead one does."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self.stalled = False
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if self.stalled:
            await reader.read()  # held open, never answered
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers.append(up_writer)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()


async def test_a_member_slow_to_answer_keeps_the_state_its_watch_vouches_for(
    members: Members, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that times out on a loaded host is not news while the member's watch says nothing changed
    since its last answer; once the watch loses the member too, the member is not answering."""
    primary = await initiated_with_users(members)
    proxy = StallingProxy(primary)
    address = await proxy.start()
    agent = MongoAdmin(members.admin.shell)
    agent.on_change(address, lambda: None)
    await wait_for(lambda: _answered(agent, address))
    assert "PRIMARY" == (await agent.observe(address, CREDS)).role
    await agent.settle({address}, address, idle_for=0)  # its clients closed: the next command dials again

    monkeypatch.setattr(mongo_module, "TIMEOUT_MS", 300)
    proxy.stalled = True
    assert "PRIMARY" == (await agent.observe(address, CREDS)).role

    proxy.cut()
    await wait_for(lambda: _not_answered(agent, address))
    with pytest.raises(PyMongoError):
        await agent.observe(address, CREDS)
    await agent.close()


async def _answered(agent: MongoAdmin, address: str) -> bool:
    return agent.watching(address)


async def _not_answered(agent: MongoAdmin, address: str) -> bool:
    return not agent.watching(address)


async def test_members_without_users_are_never_sent_a_login_that_fails(
    members: Members, caplog: pytest.LogCaptureFixture
) -> None:
    """Before its users exist (and on an arbiter, for good) a member is asked whether clusterAdmin exists, not
    sent a login that fails: each failure is an 'Authentication failed' line in mongod's log for operators to
    chase, and costs the agent a client."""
    caplog.set_level(logging.INFO, logger="fedstate_sim")
    assert {"STARTUP"} == {(await members.admin.observe(a, CREDS)).role for a in members.addresses}
    primary = await initiated_with_users(members)
    assert "PRIMARY" == (await members.admin.observe(primary, CREDS)).role
    failed = [r.getMessage() for r in caplog.records if "authentication of" in r.getMessage()]
    assert [] == failed


def test_a_member_is_forced_once_and_never_while_primary() -> None:
    """The agent forces a config only on a member outside a working set (REMOVED) or a survivor of a lost
    majority (SECONDARY), and only while it holds an older config: mongod's jump of 10,000 or more in the
    version makes a second pass a no-op, so an election that followed is never undone."""
    wanted = config(["127.0.0.1:1"]).model_copy(update={"version": 8})
    older, forced = wanted.model_copy(update={"version": 7}), wanted.model_copy(update={"version": 10_008})
    for role in ("REMOVED", "SECONDARY"):
        assert needs_force(MemberState(True, role, True, older, []), wanted)
        assert not needs_force(MemberState(True, role, True, forced, []), wanted)
    assert not needs_force(MemberState(True, "PRIMARY", True, older, []), wanted)
    assert not needs_force(MemberState(False, "STARTUP", True, None, []), wanted)


async def test_two_passes_settling_at_once_close_each_client_once(members: Members) -> None:
    """Two passes of one instance (or a pass and the reaper) close the same idle clients at once: neither fails."""
    primary = await initiated_with_users(members)
    agent = MongoAdmin(members.admin.shell)
    await agent.ensure_users(primary, CREDS, monitor=True)
    await agent.read_primary(primary, CREDS)
    await asyncio.gather(*(agent.settle(set(), primary, idle_for=0) for _ in range(3)))
    await agent.close()


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_clients_an_agent_holds_open_are_counted(members: Members) -> None:
    """``fedstate_agent_mongo_clients`` (open now) and ``fedstate_agent_mongo_clients_opened_total`` (by user):
    what the agent costs its members in connections and logins, for operators to watch."""
    primary = await initiated_with_users(members)
    open_before = _sample("fedstate_agent_mongo_clients")
    opened_before = _sample("fedstate_agent_mongo_clients_opened_total", user="clusterAdmin")
    agent = MongoAdmin(members.admin.shell)
    await agent.read_primary(primary, CREDS, users_created=True)
    await agent.feature_compatibility_version(primary, CREDS)  # the same client: one login
    assert open_before + 1 == _sample("fedstate_agent_mongo_clients")
    assert opened_before + 1 == _sample("fedstate_agent_mongo_clients_opened_total", user="clusterAdmin")
    await agent.settle(set(), primary, idle_for=0)
    assert open_before == _sample("fedstate_agent_mongo_clients")
    await agent.close()


async def test_before_the_set_s_users_exist_every_member_is_known_by_its_watch(members: Members) -> None:
    """Until the set's users exist (the orchestrator says so) no member can be read further than its hello: the
    hello its watch holds answers for it, and no login is negotiated (a one-shot connection per member and pass
    while a fleet's sets form). The PRIMARY too, until this agent sees the users there (it creates them)."""
    agent = members.admin
    for address in members.addresses:
        agent.on_change(address, lambda: None)
    await wait_for(lambda: _true(all(agent.watching(a) for a in members.addresses)))
    secondary = members.addresses[1]
    await agent.observe(secondary, CREDS)  # its version, once per mongod process
    asked = agent.touched([secondary])
    state = await agent.observe(secondary, CREDS, users_expected=False)
    assert (False, "STARTUP", False) == (state.initiated, state.role, state.users_ready)
    assert asked == agent.touched([secondary]), "the member was asked"

    primary = members.addresses[await initiated(members)]
    await wait_for(lambda: _true(agent.watching(primary)))
    asked = agent.touched([primary])
    assert "PRIMARY" == (await agent.observe(primary, CREDS, users_expected=False)).role
    assert asked == agent.touched([primary]), "the PRIMARY was asked"


async def test_a_watched_member_s_version_comes_with_its_watch(
    members: Members, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watch asks buildInfo on its own connection as it opens: a member known by its hello is reported with
    its version, and nothing opens a connection of its own to ask it (one per member of a fleet being created)."""
    agent = members.admin
    asked: list[dict[str, Any]] = []
    anonymous = agent._anonymous

    async def counted(address: str, command: dict[str, Any]) -> dict[str, Any]:
        asked.append(command)
        return await anonymous(address, command)

    monkeypatch.setattr(agent, "_anonymous", counted)
    secondary = members.addresses[1]
    agent.on_change(secondary, lambda: None)
    await wait_for(lambda: _true(agent.watching(secondary)))
    state = await agent.observe(secondary, CREDS, users_expected=False)
    assert ("STARTUP", members.version, []) == (state.role, state.version, asked)


def counting_negotiations(agent: MongoAdmin, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The users whose login ``agent`` negotiates (a one-shot hello asking whether the user exists), in order."""
    asked: list[str] = []
    negotiate = agent._negotiate

    async def counted(address: str, user: str) -> dict[str, Any]:
        asked.append(user)
        return await negotiate(address, user)

    monkeypatch.setattr(agent, "_negotiate", counted)
    return asked


async def test_a_login_is_negotiated_only_for_a_user_not_known_to_be_there(
    members: Members, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negotiating a first login spares mongod's log a failed one when the user may be missing. A user the agent
    has seen on that mongod (created, listed, logged in as) is not asked about again, nor are the set's users on
    its primary once the federation says they exist: a one-shot connection per client, and a few milliseconds of
    every create's way to Health."""
    primary = await initiated_with_users(members)
    agent = MongoAdmin(members.admin.shell)
    asked = counting_negotiations(agent, monkeypatch)
    await agent.ensure_users(primary, CREDS, monitor=True)  # root: never seen by this agent
    assert [ROOT_USER] == asked
    await agent.feature_compatibility_version(primary, CREDS)  # clusterAdmin: listed by usersInfo just now
    assert [ROOT_USER] == asked
    await agent.close()

    elsewhere = MongoAdmin(members.admin.shell)
    asked = counting_negotiations(elsewhere, monkeypatch)
    await elsewhere.read_primary(primary, CREDS, users_created=True)
    assert [] == asked
    await elsewhere.close()
    # Neither said to exist nor seen there: the primary elsewhere is not tried at all, not even negotiated.
    unsure = MongoAdmin(members.admin.shell)
    asked = counting_negotiations(unsure, monkeypatch)
    with pytest.raises(NotAuthenticated):
        await unsure.read_primary(primary, CREDS)
    assert [] == asked
    await unsure.close()


async def test_the_agent_that_created_the_users_reads_the_set_through_its_root_login(members: Members) -> None:
    """Having just created the set's users as root, the agent reads the primary's view and config through that
    login: a second one, as clusterAdmin, was a SCRAM derivation and three round trips more on a new set's way to
    Health. The FCV too, through the same login."""
    opened = _sample("fedstate_agent_mongo_clients_opened_total", user="clusterAdmin")
    primary = await initiated_with_users(members)
    state = await members.admin.observe(primary, CREDS)
    assert ("PRIMARY", True) == (state.role, state.users_ready)
    assert state.config is not None and 3 == len(state.config.members)
    assert await members.admin.feature_compatibility_version(primary, CREDS)
    assert opened == _sample("fedstate_agent_mongo_clients_opened_total", user="clusterAdmin"), "no clusterAdmin login"


async def test_a_member_first_looked_at_is_known_by_its_watch_s_first_answer(
    members: Members, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member's first look starts its watch and waits for its first answer (hello and buildInfo, on the
    connection the watch keeps): the hello and the version used to cost two connections of their own, per member."""
    agent = MongoAdmin(members.admin.shell)
    asked: list[str] = []
    anonymous = agent._anonymous

    async def counted(address: str, command: dict[str, Any]) -> dict[str, Any]:
        asked.append(next(iter(command)))
        return await anonymous(address, command)

    monkeypatch.setattr(agent, "_anonymous", counted)
    state = await agent.observe(members.addresses[0], CREDS, users_expected=False)
    assert (False, "STARTUP", []) == (state.initiated, state.role, asked)
    assert state.version and agent.watching(members.addresses[0])
    await agent.close()


async def test_a_restarted_primary_is_asked_for_its_users_again_and_its_set_is_read(members: Members) -> None:
    """The users are ensured once per mongod process. After the primary restarts (its data kept) the next pass asks
    it again, so the clusterAdmin it holds is seen in the new mongod and its view and config are read, even when its
    watch answered before that pass: ensured once per address, a single-cluster MongoDB stayed ConfigUnread."""
    agent, primary = members.admin, members.addresses[0]
    assert await agent.initiate(members.pods[0], members.version, config(members.addresses, voting=1))
    await wait_for(lambda: _is_primary(agent, primary))
    assert await agent.create_first_user(primary, members.pods[0], members.version, CREDS)
    assert ["created clusterAdmin", "created clusterMonitor"] == await agent.ensure_users(primary, CREDS, True)
    agent.on_change(primary, lambda: None)
    await wait_for(lambda: _true(agent.watching(primary)))
    first = agent._process(primary)
    assert members.api is not None
    await client.CoreV1Api(members.api).delete_namespaced_pod("rs-m0-0", NAMESPACE)  # the only voter: PRIMARY again
    await wait_for(lambda: _true(agent._process(primary) not in (None, first)), timeout=30)
    await wait_for(lambda: _is_primary(agent, primary), timeout=30)
    assert [] == await agent.ensure_users(primary, CREDS, True), "every user is there: nothing to create"
    state = await agent.observe(primary, CREDS, users_expected=False)
    assert ("PRIMARY", True) == (state.role, state.users_ready)
    assert state.config is not None and 3 == len(state.config.members)


async def _is_primary(agent: MongoAdmin, address: str) -> bool:
    return (await agent.observe(address, CREDS, users_expected=False)).role == "PRIMARY"
