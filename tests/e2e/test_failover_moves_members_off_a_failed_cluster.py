"""Failover (issue 4, item 5: a change in clusters; issue 12, item 4: under load): when a member cluster fails,
its members move to the others and nothing else moves; w:"majority" writes go on throughout the failure and the
move, and every acknowledged one is readable afterwards. Once the cluster comes back, its stale members are
fenced: none of them answers as a writable PRIMARY, the set's config never lists one of them again, and its
agent removes what is left there (data volumes aside).

A stack of its own: four clusters, so there is somewhere to go, and heartbeats of a second, so the
failure is noticed (4 s) and acted on (8 s) quickly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.cli.localstack import LocalStack
from fedstate.models.placement import Placement

from .invariants import FAST_FAILURE, Ledger, check, created, objects_of, replica_set, uri_for, wait_settled, wait_until
from .ledger import Writer, writing
from .state_log import running

NAME = "failo"
PASSWORD = "failover-pass"


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running(tmp_path_factory.mktemp("failover"), FAST_FAILURE, clusters=4) as local:
        yield local


def placement(stack: LocalStack) -> dict[str, int]:
    """cluster → members, as the scheduler placed them."""
    placed = stack.gateway.placement(MULTICLOUD_MONGODB, "default", NAME)
    return Placement.model_validate(placed.to_wire()).replicas_by_cluster() if placed is not None else {}


def primary_cluster(uri: str, vips: dict[str, str]) -> str:
    with MongoClient(uri, serverSelectionTimeoutMS=20_000) as mongo:
        status = mongo.admin.command("replSetGetStatus")
    primary = next(m["name"] for m in status["members"] if m["stateStr"] == "PRIMARY")
    return next(cluster for cluster, vip in vips.items() if primary.startswith(f"{vip}:"))


def cluster_vips(stack: LocalStack) -> dict[str, str]:
    return {row.name: row.vip for row in stack.gateway.clusters().items}


def current_uri(stack: LocalStack) -> str | None:
    status = stack.status(NAME)
    return uri_for(status, NAME, PASSWORD) if status.get("externalAddr") else None


class Fence:
    """Watches the failed cluster's stale members from its return until they are gone from Kubernetes:
    each answer of theirs as a writable PRIMARY, and each config of the set that lists one of them."""

    def __init__(self, stale: set[str], uri: str) -> None:
        self.stale = stale
        self.uri = uri
        self.served: list[str] = []
        self.readmitted: list[str] = []
        self.looks = 0

    def look(self) -> None:
        self.looks += 1
        for host in self.stale:
            try:
                with MongoClient(f"mongodb://{host}/?directConnection=true", serverSelectionTimeoutMS=500) as one:
                    hello = one.admin.command("hello")
            except PyMongoError:
                continue  # not answering: fenced
            if hello.get("isWritablePrimary"):
                self.served.append(f"{host} answered as PRIMARY: {hello.get('hosts')}")
        try:
            config = replica_set(self.uri)[1]
        except PyMongoError:
            return
        if listed := self.stale & {m["host"] for m in config["members"]}:
            self.readmitted.append(f"config version {config['version']} lists {sorted(listed)}")


def test_a_failed_clusters_members_move_and_nothing_else_does(four: LocalStack) -> None:
    status, ledger = created(four, NAME, f"{{replicaset: 5, auth: {{rootPasswd: {PASSWORD}}}}}", PASSWORD)
    before = placement(four)
    assert 5 == sum(before.values()) and 4 == len(before)

    with writing(NAME, lambda: current_uri(four)) as writer:
        wait_until(lambda: len(writer.acknowledged) >= 20, "writes acknowledged before the failure")
        failed = primary_cluster(ledger.uri, cluster_vips(four))  # the hardest case: the primary goes with it
        stale = {h for h in status["externalAddr"].split(",") if h.startswith(f"{cluster_vips(four)[failed]}:")}
        four.cli("sim", "fail", failed)
        acknowledged_before = len(writer.acknowledged)
        wait_until(lambda: failed not in placement(four), f"a placement without {failed}")
        after = placement(four)
        assert 5 == sum(after.values())
        assert all(after[cluster] >= members for cluster, members in before.items() if cluster != failed), after

        status = wait_settled(four, NAME, timeout=120)
        hosts = status["externalAddr"].split(",")
        assert 5 == len(hosts) and not any(h.startswith(f"{cluster_vips(four)[failed]}:") for h in hosts)
        acknowledged_moved = len(writer.acknowledged)
        wait_until(lambda: len(writer.acknowledged) >= acknowledged_moved + 20, "writes acknowledged after the move")
        assert acknowledged_moved > acknowledged_before, writer.summary()  # writes went on during the move
        failovers = [e.message for e in four.gateway.events("default", NAME).items if e.reason == "Failover"]
        assert failovers and failed in failovers[0]

        ledger = Ledger(uri_for(status, NAME, PASSWORD), markers=ledger.markers)
        fence = Fence(stale, ledger.uri)
        four.cli("sim", "recover", failed)
        moved = before[failed]

        def fenced() -> bool:
            fence.look()
            return set(objects_of(four, NAME).get(failed, {})) <= {"persistent_volume_claim"}

        wait_until(fenced, f"the agent of {failed} removing its stale members")
        fence.look()
    assert_nothing_lost(writer)
    assert [] == fence.served, "a stale member of the failed cluster served as PRIMARY"
    assert [] == fence.readmitted, "a stale member of the failed cluster was let back into the set"
    check(four, NAME, ledger, retained_volumes=moved)


def assert_nothing_lost(writer: Writer) -> None:
    assert [] == writer.missing(), f"acknowledged writes were lost in the failover ({writer.summary()})"
