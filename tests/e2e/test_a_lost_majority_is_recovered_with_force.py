"""Disaster recovery (issue 12, item 5): a set of 3 over 3 clusters loses 2 of them. The instance shows
QuorumLost with the survivor and its optime, and an event with the options; ``fedstate recover`` is refused
while the majority is reachable and without --force; with --force the freshest survivor is reconfigured
with force, new members replace the lost ones one voter at a time, and the set is Health again with every
write the survivor held. When the lost clusters come back, their stale members are removed, not re-admitted.

A stack of its own: heartbeats of a second, so the loss is noticed in seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pymongo import MongoClient, WriteConcern

from fedstate.cli.localstack import LocalStack

from .invariants import FAST_FAILURE, Ledger, check, created, objects_of, replica_set, uri_for, wait_settled, wait_until
from .state_log import running

NAME = "lost"
PASSWORD = "lost-majority-pass"


def quorum_lost(stack: LocalStack) -> dict[str, Any] | None:
    conditions = {c["type"]: c for c in stack.status(NAME).get("conditions", [])}
    lost = conditions.get("QuorumLost")
    return lost if lost is not None and lost["status"] == "True" else None


def replicated_everywhere(ledger: Ledger) -> None:
    """A write every member acknowledges: every earlier write is then on every member, the survivor's too."""
    with ledger.client() as mongo:
        mongo.ledger.get_collection("flush", write_concern=WriteConcern(w=3, wtimeout=20_000)).insert_one({})


def refusal(stack: LocalStack, *flags: str) -> str:
    result = stack.cli("recover", "mcm", NAME, *flags, check=False)
    assert 1 == result.returncode, result.stdout
    return result.stderr


def test_two_of_three_clusters_lost_then_forced_recovery_brings_health_back(tmp_path: Path) -> None:
    with running(tmp_path, FAST_FAILURE, clusters=3) as three:
        lose_two_clusters_and_recover(three)


def lose_two_clusters_and_recover(three: LocalStack) -> None:
    _, ledger = created(three, NAME, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}}}", PASSWORD)
    assert "does not need a forced recovery" in refusal(three, "--force"), "refused while a majority is reachable"
    created_events = {e.reason for e in three.gateway.events("default", NAME).items}
    assert "QuorumLost" not in created_events, "a new set electing its first PRIMARY has not lost its majority"
    for _ in range(3):
        ledger.write()
    replicated_everywhere(ledger)
    before = objects_of(three, NAME)
    lost_clusters = sorted(before)[1:]  # member-1 keeps its member, the survivor

    for cluster in lost_clusters:
        three.cli("sim", "fail", cluster)
    wait_until(lambda: quorum_lost(three) is not None, "QuorumLost shown", timeout=60)
    lost = quorum_lost(three)
    assert lost is not None and "1 of 3 voters reachable, a majority needs 2" in lost["message"], lost
    assert "(SECONDARY, optime {ts: " in lost["message"] and f"`fedstate recover mcm {NAME} --force`" in lost["message"]
    told = [e for e in three.gateway.events("default", NAME).items if e.reason == "QuorumLost"]
    assert told and "Warning" == told[0].type and "writes not replicated to the survivors are lost" in told[0].message

    assert "must be true (fedstate recover --force)" in refusal(three)
    assert quorum_lost(three) is not None, "a refused request changes nothing"
    three.cli("recover", "mcm", NAME, "--force")

    status = wait_settled(three, NAME, timeout=180)
    ledger = Ledger(uri_for(status, NAME, PASSWORD), markers=ledger.markers)
    assert [] == ledger.missing(), "a write the survivor held was lost"
    ledger.write()
    _, config = replica_set(ledger.uri)
    assert 3 == len(config["members"]) and config["version"] > 10_000, "the forced version jump is mongod's"
    events = {e.reason: e for e in three.gateway.events("default", NAME).items}
    assert "Warning" == events["ForcedRecovery"].type
    assert "writes not replicated to the survivors are lost" in events["ForcedRecovery"].message
    assert "ReplicaSetForceReconfigured" in events

    stale = {f"{NAME}-m{o}" for o in range(3)} - {f"{NAME}-m{m['_id']}" for m in config["members"]}
    for cluster in lost_clusters:
        three.cli("sim", "recover", cluster)
    wait_until(
        lambda: not any(stale & kinds.get("stateful_set", set()) for kinds in objects_of(three, NAME).values()),
        "the stale members removed from the clusters that came back",
    )
    wait_settled(three, NAME, timeout=120)
    _, after = replica_set(ledger.uri)
    assert {m["host"] for m in after["members"]} == {m["host"] for m in config["members"]}, "a stale member rejoined"
    check(three, NAME, ledger, retained_volumes=len(stale))
    with MongoClient(ledger.uri, serverSelectionTimeoutMS=20_000) as mongo:
        assert mongo.ledger.entries.count_documents({}) == len(ledger.markers)
