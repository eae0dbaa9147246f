"""``python -m fedstate_sim --member-processes K``: the simulated mongods of a large fleet run in K child
processes (one process may hold only so many open files), and nothing a client or the Kubernetes side sees
changes — replica sets elect, faults reach every member, a taken address is refused, refusals are kept."""

from __future__ import annotations

import asyncio
import errno
import itertools
import socket
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError

from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.shards import ShardedMemberHost, shard_of
from fedstate_sim.mongo.testing import address, fast_settings, initiate_document, plan_members, seed_list

OCTET = 91
PROCESSES = 2
LAYOUT = {"c1": 2, "c2": 2, "c3": 1}
pytestmark = pytest.mark.timeout(120)


def names_in_different_processes() -> tuple[str, str]:
    names = (f"set-{n}" for n in itertools.count())
    first = next(names)
    second = next(n for n in names if shard_of(n, PROCESSES) != shard_of(first, PROCESSES))
    return first, second


@pytest.fixture
async def host() -> AsyncIterator[ShardedMemberHost]:
    members = ShardedMemberHost(fast_settings(), PROCESSES)
    await members.start()
    try:
        yield members
    finally:
        await members.close()


async def started(
    host: ShardedMemberHost, repl_set: str, octet: int, key_file: str | None = None
) -> list[MemberLaunch]:
    launches = plan_members(repl_set, LAYOUT, octet, key_file=key_file)
    for launch in launches:
        await host.start_member(launch)
    return launches


async def primary_of(launches: list[MemberLaunch], timeout_ms: int = 30_000) -> str:
    """The set's primary as a replica-set client finds it (pymongo waits for one, up to the timeout)."""
    repl_set = launches[0].repl_set
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        f"mongodb://{seed_list(launches)}/?replicaSet={repl_set}", serverSelectionTimeoutMS=timeout_ms
    )
    try:
        hello = await client.admin.command("hello")
        return str(hello["primary"])
    finally:
        await client.close()


async def initiate(launches: list[MemberLaunch]) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(address(launches[0]), directConnection=True)
    try:
        await client.admin.command("replSetInitiate", initiate_document(launches[0].repl_set, launches))
    finally:
        await client.close()


async def answers(launch: MemberLaunch) -> bool:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        address(launch), directConnection=True, serverSelectionTimeoutMS=500
    )
    try:
        await client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        await client.close()


async def all_answer(members: list[MemberLaunch], within: float = 10.0) -> bool:
    """Whether every member answers a ping within ``within`` seconds. The processes are told of a cluster back up,
    not asked, and a ping refused just before comes back no sooner than pymongo's next look: CI saw the first
    member of c1 refuse the one ping the test used to make."""
    deadline = asyncio.get_running_loop().time() + within
    while not all([await answers(m) for m in members]):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def test_replica_sets_in_different_processes_each_elect_a_primary(host: ShardedMemberHost) -> None:
    """Two sets whose names hash to different processes: each set's five members (over three clusters) find
    each other, so each is in one process, and each elects a primary among its own members."""
    alpha, beta = names_in_different_processes()
    sets = [await started(host, alpha, OCTET), await started(host, beta, OCTET)]
    for launches in sets:
        await initiate(launches)
    for launches in sets:
        assert await primary_of(launches) in {address(launch) for launch in launches}


async def test_a_cluster_failure_reaches_the_members_of_every_process(host: ShardedMemberHost) -> None:
    """``c1`` down: its members in both processes stop answering, the others answer; back up, they answer again."""
    alpha, beta = names_in_different_processes()
    members = [*await started(host, alpha, OCTET), *await started(host, beta, OCTET)]
    in_c1 = [m for m in members if m.cluster == "c1"]
    assert {shard_of(m.repl_set, PROCESSES) for m in in_c1} == {0, 1}
    host.set_cluster_down("c1", True)
    assert [await answers(m) for m in members] == [m.cluster != "c1" for m in members]
    host.set_cluster_down("c1", False)
    assert await all_answer(members)


async def test_an_address_already_taken_is_refused_as_in_one_process(host: ShardedMemberHost) -> None:
    """The Kubernetes side reports a member that cannot listen (an OSError with its errno) and retries later."""
    launch = plan_members("taken", {"c1": 1}, OCTET)[0]
    with socket.socket() as squatter:
        squatter.bind((launch.host, launch.port))
        squatter.listen()
        with pytest.raises(OSError) as refused:
            await host.start_member(launch)
    assert refused.value.errno == errno.EADDRINUSE
    await host.start_member(launch)
    assert await answers(launch)


async def test_refused_commands_are_collected_from_every_process(host: ShardedMemberHost) -> None:
    """Keyed members refuse an unauthenticated client in either process; the simulator lists both refusals."""
    alpha, beta = names_in_different_processes()
    keyed = [(await started(host, name, OCTET, key_file="a-shared-key-file"))[0] for name in (alpha, beta)]
    for launch in keyed:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(address(launch), directConnection=True)
        try:
            with pytest.raises(OperationFailure):
                await client.admin.command("replSetGetStatus")
        finally:
            await client.close()
    refused = await host.access_refusals()
    assert sorted(r["member"] for r in refused if r["command"] == "replSetGetStatus") == sorted(
        address(launch) for launch in keyed
    )


async def test_closing_stops_every_member_process() -> None:
    members = ShardedMemberHost(fast_settings(), PROCESSES)
    await members.start()
    launch = (await started(members, "closing", OCTET))[0]
    processes = list(members.processes)
    await members.close()
    assert [p.process.returncode for p in processes] == [0] * PROCESSES
    assert not await answers(launch)
