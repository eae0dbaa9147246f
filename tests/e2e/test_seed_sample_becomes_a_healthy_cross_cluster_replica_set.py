"""The walking skeleton: the seed sample over 3 simulated clusters becomes one healthy replica set."""

from __future__ import annotations

import time
import uuid

from pymongo import MongoClient
from pymongo.write_concern import WriteConcern

from fedstate.cli.demo import sample_path
from fedstate.cli.localstack import LocalStack

SAMPLE = "multicloudmongodb-sample"


def instance(name: str, spec: str) -> str:
    return f"apiVersion: middleware.fedstate.io/v1alpha1\nkind: MultiCloudMongoDB\nmetadata: {{name: {name}}}\nspec: {spec}\n"


def roles(status: dict[str, object]) -> dict[str, str]:
    return {addr: role for result in status["result"] for addr, role in result["connectAddrWithRole"].items()}  # type: ignore[attr-defined,index]


def test_the_seed_sample_reaches_health_with_a_2_2_1_split_and_one_primary(stack: LocalStack) -> None:
    """Applying the seed sample gives 5 members over 3 clusters, exactly one PRIMARY, status Health."""
    stack.cli("apply", "-f", str(sample_path().resolve()))
    status = stack.wait_for_state(SAMPLE, "Health")
    assert [2, 2, 1] == sorted((r["replicasetSpec"] for r in status["result"]), reverse=True)
    assert ["PRIMARY", "SECONDARY", "SECONDARY", "SECONDARY", "SECONDARY"] == sorted(roles(status).values())
    assert 5 == len(set(status["externalAddr"].split(",")))
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert {"ServerReady": "True", "ServerScheduledResult": "True", "ServerCheck": "True"} == {
        k: conditions[k] for k in ("ServerReady", "ServerScheduledResult", "ServerCheck")
    }
    # A normal create is Creating, then Health: no UnHealth on the way, no Warning.
    told = stack.gateway.events("default", SAMPLE).items
    assert ["StateCreating", "StateHealth"] == [e.reason for e in told if e.reason.startswith("State")]
    assert [] == [f"{e.reason}: {e.message}" for e in told if e.type == "Warning"]


def test_an_instance_that_cannot_be_scheduled_is_unhealth_and_says_why(stack: LocalStack) -> None:
    """Not Creating: nothing is being created. The state's event and condition carry the scheduler's reason."""
    stack.apply_text("toobig", instance("toobig", "{replicaset: 3, resource: {requests: {cpu: '64'}}}"))
    status = stack.wait_for_state("toobig", "UnHealth", timeout=60)
    scheduled = next(c for c in status["conditions"] if c["type"] == "ServerScheduledResult")
    assert ("False", "Unschedulable") == (scheduled["status"], scheduled["reason"])
    told = [e for e in stack.gateway.events("default", "toobig").items if e.reason == "StateUnHealth"]
    assert 1 == len(told) and "cannot be scheduled" in told[0].message and "cpu" in told[0].message.lower()
    stack.cli("delete", "mcm", "toobig")


def test_external_addr_takes_majority_writes_through_replica_set_discovery(stack: LocalStack) -> None:
    """pymongo reaches all five VIP:NodePort hosts with replicaSet discovery and writes with w:majority."""
    status = stack.wait_for_state(SAMPLE, "Health")
    uri = f"mongodb://root:mypasswd@{status['externalAddr']}/?replicaSet={SAMPLE}&authSource=admin"
    with MongoClient(uri, serverSelectionTimeoutMS=10_000) as client:
        marker = uuid.uuid4().hex
        orders = client.shop.get_collection("orders", write_concern=WriteConcern(w="majority", wtimeout=10_000))
        assert orders.insert_one({"marker": marker}).acknowledged
        assert 1 == orders.count_documents({"marker": marker})
        primary = f"{client.primary[0]}:{client.primary[1]}"  # type: ignore[index]
    assert "PRIMARY" == roles(status)[primary]


def test_a_missing_config_ref_is_reported_not_silent(stack: LocalStack) -> None:
    """A configRef naming a ConfigMap nobody applied gives a ConfigRefFound=False condition."""
    stack.apply_text("lonely", instance("lonely", "{replicaset: 1, config: {configRef: nobody-made-this}}"))
    deadline = time.monotonic() + 60
    condition: dict[str, str] = {}
    while time.monotonic() < deadline and not condition:
        found = [c for c in stack.status("lonely").get("conditions", []) if c["type"] == "ConfigRefFound"]
        condition = found[0] if found else {}
        time.sleep(0.2)
    assert ("False", "ConfigMapNotFound") == (condition["status"], condition["reason"])
    assert "nobody-made-this" in condition["message"]


def test_killing_the_orchestrator_mid_create_still_converges(stack: LocalStack) -> None:
    """A crash of the federation service half-way through a create is healed by a fresh process."""
    stack.apply_text("crashy", instance("crashy", "{replicaset: 3}"))
    time.sleep(0.5)  # the spec is stored and fan-out has begun
    stack.kill("federation")
    time.sleep(2)
    stack.restart("federation")
    status = stack.wait_for_state("crashy", "Health")
    assert [1, 1, 1] == [r["replicasetSpec"] for r in status["result"]]
