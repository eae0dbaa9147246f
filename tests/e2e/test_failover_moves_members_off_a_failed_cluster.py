"""Failover (issue 4, item 5: a change in clusters): when a member cluster fails, its members move to the
others and nothing else moves; the set keeps one PRIMARY and every acknowledged write throughout, and
once the cluster comes back its agent removes what is left there (data volumes aside).

A stack of its own: four clusters, so there is somewhere to go, and heartbeats of a second, so the
failure is noticed (4 s) and acted on (8 s) quickly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymongo import MongoClient

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.cli.localstack import LocalStack
from fedstate.models.placement import Placement

from .invariants import FAST_FAILURE, Ledger, check, created, objects_of, uri_for, wait_settled, wait_until
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


def test_a_failed_clusters_members_move_and_nothing_else_does(four: LocalStack) -> None:
    _, ledger = created(four, NAME, f"{{replicaset: 5, auth: {{rootPasswd: {PASSWORD}}}}}", PASSWORD)
    before = placement(four)
    assert 5 == sum(before.values()) and 4 == len(before)

    failed = primary_cluster(ledger.uri, cluster_vips(four))  # the hardest case: the primary goes with it
    four.cli("sim", "fail", failed)
    wait_until(lambda: failed not in placement(four), f"a placement without {failed}")
    after = placement(four)
    assert 5 == sum(after.values())
    assert all(after[cluster] >= members for cluster, members in before.items() if cluster != failed), after

    status = wait_settled(four, NAME, timeout=120)
    hosts = status["externalAddr"].split(",")
    assert 5 == len(hosts) and not any(h.startswith(f"{cluster_vips(four)[failed]}:") for h in hosts)
    ledger = Ledger(uri_for(status, NAME, PASSWORD), markers=ledger.markers)
    assert [] == ledger.missing(), "an acknowledged write was lost in the failover"
    ledger.write()
    failovers = [e.message for e in four.gateway.events("default", NAME).items if e.reason == "Failover"]
    assert failovers and failed in failovers[0]

    four.cli("sim", "recover", failed)
    moved = before[failed]
    wait_until(lambda: set(objects_of(four, NAME).get(failed, {})) <= {"persistent_volume_claim"},
               f"the agent of {failed} removing its members")  # fmt: skip
    check(four, NAME, ledger, retained_volumes=moved)
