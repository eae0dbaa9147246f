"""A bootstrap a real mongod accepts (issue 13, decision 0008): the simulated members enforce keyFile access
control — the network gets Unauthorized without a login — and an instance still reaches Health: the agent
initiates and creates root inside a pod through pods/exec, and sends every other command authenticated."""

from __future__ import annotations

import json
from typing import Any
from urllib.request import urlopen

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import load_state

from .invariants import apply, wait_settled

NAME = "guarded"
PROBE = "e2e-unauthenticated-probe"


@pytest.fixture(scope="module")
def healthy(stack: LocalStack) -> dict[str, Any]:
    """Two data members and an arbiter (which never holds users), settled at Health."""
    apply(stack, NAME, "{replicaset: 2, config: {arbiter: true}}")
    return wait_settled(stack, NAME)


def members(status: dict[str, Any]) -> dict[str, str]:
    return {addr: role for result in status["result"] for addr, role in result["connectAddrWithRole"].items()}


def refusals(stack: LocalStack) -> list[dict[str, Any]]:
    state = load_state(stack.paths)
    assert state is not None
    with urlopen(f"{state.sim_control_url}/sim/mongo/refusals", timeout=10) as response:
        return list(json.load(response)["refusals"])


def test_an_instance_reaches_health_while_members_refuse_the_unauthenticated(
    stack: LocalStack, healthy: dict[str, Any]
) -> None:
    """Every member, the arbiter too, answers an unauthenticated replSetGetStatus with Unauthorized (13), and
    the bootstrap events say it ran in a pod."""
    assert ["ARBITER", "PRIMARY", "SECONDARY"] == sorted(members(healthy).values())
    for address in members(healthy):
        with MongoClient(address, directConnection=True, appname=PROBE, serverSelectionTimeoutMS=5000) as mongo:
            with pytest.raises(OperationFailure) as refused:
                mongo.admin.command("replSetGetStatus")
            assert 13 == refused.value.code, address
    told = {e.reason: e.message for e in stack.gateway.events("default", NAME).items}
    assert f"in pod default/{NAME}-m" in told["ReplicaSetInitiated"]
    assert any(
        e.reason == "Users" and "created root in pod" in e.message for e in stack.gateway.events("default", NAME).items
    )


def test_the_agent_never_sends_an_unauthenticated_admin_command(stack: LocalStack, healthy: dict[str, Any]) -> None:
    """Of every Unauthorized answer the simulator gave this session over the network, none went to an agent
    (the probe's refusals show that refusals are recorded)."""
    for address in members(healthy):
        with MongoClient(address, directConnection=True, appname=PROBE, serverSelectionTimeoutMS=5000) as mongo:
            with pytest.raises(OperationFailure):
                mongo.admin.command("replSetGetConfig")
    network = [r for r in refusals(stack) if not r["local"]]
    assert {PROBE} <= {r["app"] for r in network}
    assert [] == [f"{r['command']} to {r['member']}" for r in network if r["app"] == "fedstate-agent"]
