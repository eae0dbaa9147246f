"""A local stack of many simulated clusters runs several clusters' collectors (and agents) in one process
(``fedstate up --clusters-per-process``): each cluster still has its own collector heartbeat, agent lease and
members, as if it had processes of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import load_state

from .invariants import created
from .state_log import running

NAME = "shared"
PASSWORD = "shared-pass"


@pytest.fixture(scope="module")
def paired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running(tmp_path_factory.mktemp("paired"), clusters=4, clusters_per_process=2) as local:
        yield local


def test_two_clusters_per_process_serve_a_set_spread_over_all_four(paired: LocalStack) -> None:
    state = load_state(paired.paths)
    assert state is not None
    members = sorted(p.name for p in state.processes if p.name.startswith(("agent-", "collector-")))
    assert [
        "agent-member-1..member-2",
        "agent-member-3..member-4",
        "collector-member-1..member-2",
        "collector-member-3..member-4",
    ] == members

    status, _ = created(paired, NAME, f"{{replicaset: 4, auth: {{rootPasswd: {PASSWORD}}}}}", PASSWORD)
    assert {"member-1", "member-2", "member-3", "member-4"} == {r["cluster"] for r in status["result"]}
    assert ["Ready"] * 4 == [c.health for c in paired.gateway.clusters().items]
    # The orchestrator wrote the four clusters' specs in one pass, and tells it in one event that names them.
    told = [e.message for e in paired.gateway.events("default", NAME).items if e.reason == "DataPlaneCreated"]
    assert ["data-plane spec for clusters member-1, member-2, member-3, member-4 has been created"] == told
