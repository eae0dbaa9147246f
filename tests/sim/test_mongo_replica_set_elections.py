"""Simulated replica sets elect exactly one primary and fail over like MongoDB across clusters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import combinations

import pytest
from pymongo import WriteConcern
from pymongo.errors import PyMongoError

from fedstate_sim.config import SimSettings
from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.election import grant_vote
from fedstate_sim.mongo.fabric import MongoFabric
from fedstate_sim.mongo.testing import (
    SetHarness,
    address,
    error_code,
    fast_settings,
    member_states,
    primaries,
    wait_until,
)

OCTET = 202
ELECTION_TIMEOUT_S = 0.4


@pytest.fixture
def sim() -> Iterator[FabricThread]:
    with FabricThread(fast_settings(int(ELECTION_TIMEOUT_S * 1000))) as thread:
        yield thread


@pytest.fixture
def five(sim: FabricThread) -> Iterator[SetHarness]:
    """A 5-member set initiated over three clusters, 2+2+1, with a primary."""
    harness = SetHarness(sim, "rs0", {"c1": 2, "c2": 2, "c3": 1}, OCTET).start()
    harness.initiate()
    harness.wait_until_healthy()
    yield harness
    harness.close()


def test_a_2_2_1_set_has_exactly_one_primary(five: SetHarness) -> None:
    """replSetGetStatus and a replicaSet-discovery client agree on one PRIMARY and four SECONDARYs."""
    status_client = five.direct(five.launches[4])
    wait_until(
        lambda: sorted(member_states(status_client).values()) == ["PRIMARY"] + ["SECONDARY"] * 4,
        what="1 primary + 4 secondaries",
    )
    [primary] = primaries(status_client)
    client = five.client()
    client.app.items.insert_one({"n": 1})
    assert (primary.split(":")[0], int(primary.split(":")[1])) == client.primary
    assert 1 == client.app.items.count_documents({})


def test_losing_the_primary_cluster_elects_a_new_primary_quickly(five: SetHarness) -> None:
    """With the primary's cluster down, another cluster's member is PRIMARY within about electionTimeoutMillis."""
    old = five.wait_for_primary()
    started = time.monotonic()
    five.sim.set_cluster_down(old.cluster, True)
    new = five.wait_for_primary(timeout=5, excluding=address(old))
    elapsed = time.monotonic() - started
    assert new.cluster != old.cluster
    assert elapsed < 4 * ELECTION_TIMEOUT_S, f"failover took {elapsed:.2f}s"


@pytest.mark.parametrize("lost", ["c1", "c2", "c3"])
def test_a_2_2_1_set_survives_losing_any_cluster_without_losing_majority_writes(five: SetHarness, lost: str) -> None:
    """Every write acknowledged with w:majority is readable after any one cluster fails mid-stream."""
    items = five.client(retryWrites=True).app.get_collection(
        "items", write_concern=WriteConcern("majority", wtimeout=3000)
    )
    acknowledged = _write_during_failure(five, items, lost)
    five.sim.set_cluster_down(lost, False)
    reader = five.client().app.items
    wait_until(lambda: five.wait_for_primary(), what="a primary after recovery")
    stored = {doc["_id"] for doc in reader.find({}, {"_id": 1})}
    assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)}"
    assert len(acknowledged) >= 40


def _write_during_failure(five: SetHarness, items: object, lost: str) -> set[int]:
    acknowledged: set[int] = set()
    for n in range(60):
        if n == 20:
            five.sim.set_cluster_down(lost, True)
        try:
            items.insert_one({"_id": n})  # type: ignore[attr-defined]
            acknowledged.add(n)
        except PyMongoError:
            pass
    return acknowledged


def test_a_4_1_set_has_no_primary_once_the_big_cluster_fails(sim: FabricThread) -> None:
    """Four of five voters gone: the lone survivor stays SECONDARY (no majority, no primary)."""
    harness = SetHarness(sim, "rs41", {"c1": 4, "c2": 1}, OCTET).start()
    harness.initiate()
    harness.wait_until_healthy()
    survivor = harness.launches[4]
    sim.set_cluster_down("c1", True)
    time.sleep(4 * ELECTION_TIMEOUT_S)
    assert [] == harness.running_primaries()
    states = member_states(harness.direct(survivor))
    assert "SECONDARY" == states[address(survivor)]
    assert {"(not reachable/healthy)"} == {s for host, s in states.items() if host != address(survivor)}
    harness.close()


def test_step_down_moves_the_primary(five: SetHarness) -> None:
    """replSetStepDown hands the primary role to a caught-up secondary."""
    old = five.wait_for_primary()
    five.direct(old).admin.command("replSetStepDown", 30, secondaryCatchUpPeriodSecs=5)
    new = five.wait_for_primary(timeout=5, excluding=address(old))
    assert address(new) != address(old)
    assert "SECONDARY" == member_states(five.direct(old))[address(old)]


def test_a_partitioned_minority_primary_steps_down(five: SetHarness) -> None:
    """A primary cut off from the majority of voters steps down; the majority side elects a new one."""
    old = five.wait_for_primary()
    others = {"c1", "c2", "c3"} - {old.cluster}
    five.sim.partition({old.cluster}, others)
    new = five.wait_for_primary(timeout=5, excluding=address(old))
    wait_until(lambda: address(old) not in five.running_primaries(), what="the old primary to step down")
    assert new.cluster in others
    five.sim.heal()


def test_a_member_cut_from_the_primary_alone_wins_with_the_votes_of_those_that_still_hear_it(
    sim: FabricThread,
) -> None:
    """A non-transitive cut (c1 and c2 cannot talk, c3 hears both): the member cut from the primary runs, and the
    member that still hears the primary votes for it, as mongod's pv1 voters do (no veto, no leader stickiness).
    The old primary steps down on the new term; one PRIMARY per term all along."""
    harness = SetHarness(sim, "rs1", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
    try:
        harness.initiate()
        old = harness.wait_until_healthy()
        cut_off = next(launch for launch in harness.launches if launch.cluster not in (old.cluster, "c3"))
        bridge = next(launch for launch in harness.launches if launch.cluster == "c3")
        if old.cluster == "c3":  # the member that hears both must not be the primary itself
            cut_off, bridge = harness.launches[0], harness.launches[1]
            harness.sim.partition({cut_off.cluster}, {bridge.cluster})
        else:
            harness.sim.partition({old.cluster}, {cut_off.cluster})
        wait_until(
            lambda: address(cut_off) in harness.running_primaries(),
            timeout=20 * ELECTION_TIMEOUT_S,
            what="the member cut from the primary to win an election",
        )
        assert len(harness.running_primaries()) <= 2  # an old primary may not have heard the new term yet
        harness.sim.heal()
    finally:
        harness.close()


def test_a_higher_priority_member_takes_over_once_caught_up(sim: FabricThread) -> None:
    """The initiator wins the first election; the priority-2 member then takes over (priority takeover)."""
    harness = SetHarness(sim, "rsprio", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
    harness.initiate(m2={"priority": 2})
    wait_until(
        lambda: harness.running_primaries() == [address(harness.launches[2])],
        timeout=10,
        what="the priority-2 member to become primary",
    )
    harness.close()


def test_an_arbiter_votes_but_holds_no_data(sim: FabricThread) -> None:
    """P-S-A: the arbiter reports ARBITER, is listed under arbiters, and keeps the set writable."""
    harness = SetHarness(sim, "rspsa", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
    harness.initiate(m2={"arbiterOnly": True})
    primary = harness.wait_until_healthy()
    hello = harness.direct(harness.launches[2]).admin.command("hello")
    assert (True, [address(harness.launches[2])]) == (hello["arbiterOnly"], hello["arbiters"])
    harness.client().app.items.insert_one({"_id": 1})
    sim.set_cluster_down(next(launch.cluster for launch in harness.launches[:2] if launch != primary), True)
    time.sleep(3 * ELECTION_TIMEOUT_S)
    assert [address(primary)] == harness.running_primaries()
    harness.close()


def test_an_idle_set_goes_quiet_but_still_reports_fresh_heartbeats_and_fails_over(five: SetHarness) -> None:
    """After idling (cheap quiet rounds), status shows live peers and a failure is handled on time."""
    time.sleep(10 * 0.1)
    assert five.sim.inspect(lambda fabric: fabric.services.stats["quiet_rounds"]) > 0
    old = five.wait_for_primary()
    status = five.direct(old).admin.command("replSetGetStatus")
    peers = [m for m in status["members"] if not m.get("self")]
    assert {1.0} == {m["health"] for m in peers}
    assert all((status["date"] - m["lastHeartbeat"]).total_seconds() < 2 * 0.1 for m in peers)
    started = time.monotonic()
    five.sim.set_cluster_down(old.cluster, True)
    five.wait_for_primary(timeout=5, excluding=address(old))
    elapsed = time.monotonic() - started
    five.sim.set_cluster_down(old.cluster, False)
    assert elapsed < 4 * ELECTION_TIMEOUT_S


# Every way to cut three clusters apart, as the sides that cannot reach each other.
PARTITIONS = {
    "c1 | c2 c3": [{"c1"}, {"c2", "c3"}],
    "c2 | c1 c3": [{"c2"}, {"c1", "c3"}],
    "c3 | c1 c2": [{"c3"}, {"c1", "c2"}],
    "c1 | c2 | c3": [{"c1"}, {"c2"}, {"c3"}],
}
VOTERS = {"c1": 2, "c2": 2, "c3": 1}  # the 2-2-1 layout of ``five``; every member votes
WATCHED_TIMEOUTS = 8  # how long, in election timeouts, a partition is watched for a wrong election
GIVE_UP_SECONDS = 20.0


@dataclass
class Partitioned:
    """A 2-2-1 set cut into sides, watched through each member's own replSetGetStatus (myState, term)."""

    harness: SetHarness
    sides: list[frozenset[str]]
    cut_term: int  # the term of the PRIMARY when the cut was made
    primaries: dict[int, set[str]] = field(default_factory=dict)  # term → members seen PRIMARY in it

    def side_of(self, host: str) -> frozenset[str]:
        cluster = self.harness.by_address(host).cluster
        return next(side for side in self.sides if cluster in side)

    @property
    def majority(self) -> list[frozenset[str]]:
        """The side holding 3 of the 5 voters, if any."""
        return [side for side in self.sides if sum(VOTERS[c] for c in side) >= 3]

    def look(self) -> list[frozenset[str]]:
        """The side of each member PRIMARY now; every PRIMARY seen is remembered with its term."""
        now = []
        for launch in self.harness.launches:
            status = self.harness.direct(launch).admin.command("replSetGetStatus")
            if status["myState"] == 1:
                self.primaries.setdefault(int(status["term"]), set()).add(address(launch))
                now.append(self.side_of(address(launch)))
        return now

    def terms_with_two_primaries(self) -> dict[int, set[str]]:
        return {term: hosts for term, hosts in self.primaries.items() if len(hosts) > 1}

    def elected_without_a_majority(self) -> set[str]:
        """Members that won an election after the cut on a side without 3 voters."""
        elected = {host for term, hosts in self.primaries.items() if term > self.cut_term for host in hosts}
        return {host for host in elected if self.side_of(host) not in self.majority}


def cut(harness: SetHarness, sides: list[set[str]]) -> Partitioned:
    primary = harness.wait_for_primary()
    cut_term = int(harness.direct(primary).admin.command("replSetGetStatus")["term"])
    for side_a, side_b in combinations(sides, 2):
        harness.sim.partition(side_a, side_b)
    return Partitioned(harness, [frozenset(side) for side in sides], cut_term)


@pytest.mark.parametrize("sides", PARTITIONS.values(), ids=PARTITIONS.keys())
def test_under_any_partition_a_2_2_1_set_has_one_primary_per_term_and_only_with_a_majority(
    five: SetHarness, sides: list[set[str]]
) -> None:
    """Cut the three clusters apart: no term ever has two PRIMARYs; nobody elected after the cut is PRIMARY
    on a side with fewer than 3 of the 5 voters; the side with a majority, if any, ends with the one PRIMARY
    (the PRIMARY cut off on a minority steps down) and no other side has one."""
    watch = cut(five, sides)
    started = time.monotonic()
    while True:
        now = watch.look()
        assert {} == watch.terms_with_two_primaries()
        assert set() == watch.elected_without_a_majority()
        watched = time.monotonic() - started
        if watched >= WATCHED_TIMEOUTS * ELECTION_TIMEOUT_S and now == watch.majority:
            break
        assert watched < GIVE_UP_SECONDS, f"PRIMARYs on the sides {now}, expected only on {watch.majority}"
        time.sleep(0.05)
    five.sim.heal()


def test_a_primary_shut_down_by_sigterm_hands_over_without_waiting_for_an_election() -> None:
    """mongod on SIGTERM (its pod deleted): a primary steps down to a caught-up secondary and lets it stand at once.
    With a 20 s election timeout, a crashed primary would leave the set without one for 20 s; this one does not."""
    with FabricThread(fast_settings(20_000)) as sim:
        harness = SetHarness(sim, "rs1", {"c1": 1, "c2": 1, "c3": 1}, OCTET + 50).start()
        try:
            harness.initiate()
            old = harness.wait_for_primary(timeout=30)
            harness.client().app.items.with_options(write_concern=WriteConcern(w="majority")).insert_one({"n": 1})
            sim.stop_member(old.host, old.port, clean=True)
            new = harness.wait_for_primary(timeout=5, excluding=address(old))
            assert 1 == harness.direct(new).app.items.count_documents({})
        finally:
            harness.close()


def test_a_primary_counts_no_member_that_has_voted_in_a_newer_term() -> None:
    """A member has just voted for another candidate in a newer term, and no heartbeat has told the primary yet
    (it is cut from the candidate, or the heartbeat is on its way). The primary still takes a write, and the
    member still copies it. mongod's primary learns the newer term from that member's position report and steps
    down: it never counts a member of a newer term towards a majority (RaftMongo.tla's AdvanceCommitPoint), so it
    acknowledges no write the new primary would roll back."""
    slow_heartbeats = SimSettings(election_timeout_millis=12_000, heartbeat_interval_millis=3_000)
    with FabricThread(slow_heartbeats) as sim:
        harness = SetHarness(sim, "rsterm", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
        try:
            harness.initiate()
            old = harness.wait_until_healthy(timeout=30)
            voter, candidate = [launch for launch in harness.launches if launch != old]
            entries = harness.direct(old, retryWrites=False).app.get_collection(
                "entries", write_concern=WriteConcern("majority", wtimeout=5_000)
            )
            entries.insert_one({"_id": "before"})

            def vote_in_a_newer_term(fabric: MongoFabric) -> None:
                chosen, voting = fabric.member(candidate.host, candidate.port), fabric.member(voter.host, voter.port)
                assert chosen is not None and voting is not None
                assert grant_vote(voting, chosen, chosen.data.term + 1, fabric.services.scheduler.now(), False)

            sim.inspect(vote_in_a_newer_term)
            with pytest.raises(PyMongoError) as refused:
                entries.insert_one({"_id": "after-the-vote"})
            assert error_code(refused.value) in (189, 10107), f"a not-primary error, not {refused.value}"
        finally:
            harness.close()
