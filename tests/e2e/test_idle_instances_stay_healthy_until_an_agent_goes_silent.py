"""Liveness is its own signal (issue 14, item 1): an idle, healthy instance stays Health however long
nothing happens, because agents renew a lease on a fixed period instead of rewriting unchanged reports;
an agent that stops renewing turns its members DOWN, with a condition and an event that name it.
Idle also costs the member clusters nothing (issue 9, item 2): the agents' resyncs read their informers
and write only what differs, so an idle window holds no write and no list of the agents' kinds.

A stack of its own with fast heartbeats (1 s), a short failure threshold (4 s) and a 2 s resync, so waiting
past three thresholds takes seconds and covers several resyncs; failover is far off, so nothing moves
while an agent is silent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from fedstate.cli.localstack import LocalStack

from .invariants import api_answers, created, wait_until
from .state_log import running

NAME = "idle"
PASSWORD = "idle-pass"
# Four heartbeats, as a kubelet's node lease (40 s over 10 s): with three, one 2 s stall of a loaded CI machine
# made a live agent count as silent for a moment.
THRESHOLD_SECONDS = 4.0
FAST_LIVENESS = {
    "FEDSTATE_HEARTBEAT_SECONDS": "1",
    "FEDSTATE_FAILURE_THRESHOLD_SECONDS": str(THRESHOLD_SECONDS),
    "FEDSTATE_FAILOVER_AFTER_SECONDS": "3600",
    "FEDSTATE_RESYNC_SECONDS": "2",
}
# The collectors list nodes, pods and services on every heartbeat; only the agents touch these kinds.
AGENT_KINDS = {"statefulsets", "secrets", "configmaps", "persistentvolumeclaims"}
WRITES = {"APPLY", "PATCH", "POST", "PUT", "DELETE"}


def api_requests(stack: LocalStack) -> Counter[tuple[str, str, str]]:
    """(cluster, verb, resource) → requests every member cluster's API answered (its /metrics)."""
    counted: Counter[tuple[str, str, str]] = Counter()
    for (cluster, verb, resource, _), n in api_answers(stack).items():
        counted[(cluster, verb, resource)] += n
    return counted


def agent_work(counted: Counter[tuple[str, str, str]]) -> Counter[tuple[str, str, str]]:
    return Counter({k: n for k, n in counted.items() if k[1] in WRITES or (k[1] == "LIST" and k[2] in AGENT_KINDS)})


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running(tmp_path_factory.mktemp("liveness"), FAST_LIVENESS) as local:
        yield local


def test_an_idle_instance_stays_health_past_three_failure_thresholds(quick: LocalStack) -> None:
    settled, _ = created(quick, NAME, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}}}", PASSWORD)
    before = agent_work(api_requests(quick))
    deadline = time.monotonic() + 4 * THRESHOLD_SECONDS
    while time.monotonic() < deadline:
        assert "Health" == quick.status(NAME).get("state"), quick.status(NAME)
        time.sleep(0.25)
    assert settled == quick.status(NAME), "an idle instance's status changed with nothing happening"
    assert before == agent_work(api_requests(quick)), "idle agents wrote to (or listed) their clusters"


def test_a_silent_agent_turns_its_members_down_and_is_named(quick: LocalStack) -> None:
    status = quick.status(NAME)
    silent = next(r["cluster"] for r in status["result"] if "PRIMARY" not in r["connectAddrWithRole"].values())
    quick.kill(f"agent-{silent}")

    def members_down() -> bool:
        result = next(r for r in quick.status(NAME)["result"] if r["cluster"] == silent)
        return set(result["connectAddrWithRole"].values()) == {"DOWN"}

    wait_until(members_down, f"the members in {silent} shown DOWN", timeout=60)
    status = quick.status(NAME)
    assert "SubHealth" == status["state"]
    agents = next(c for c in status["conditions"] if c["type"] == "AgentsReporting")
    assert ("False", "AgentSilent") == (agents["status"], agents["reason"])
    assert f"dataplane-agent of {silent}" in agents["message"]
    events = quick.gateway.events("default", NAME).items
    told = [e for e in events if e.reason == "AgentSilent" and f"dataplane-agent of {silent}" in e.message]
    assert 1 == len(told) and "Warning" == told[0].type, [(e.reason, e.message) for e in events]
    state_change = next(e for e in events if e.reason == "StateSubHealth")
    assert silent in state_change.message
