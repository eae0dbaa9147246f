"""``fedstate up --leaf-nodes`` (decision 0022): every member cluster's collector and agent connect to a NATS leaf
node of their own, without JetStream, linked to a hub whose JetStream has the domain ``hub``, each service on its
own user and the leaf's link on the cluster's — as deploy/k8s runs them. The clusters become Ready and a create
converges to Health with every member report, lease and event crossing a leaf node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import StackState, load_state
from fedstate.cli.stack import member_env

from .invariants import apply, wait_settled
from .state_log import running


@pytest.fixture(scope="module")
def leafed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running(tmp_path_factory.mktemp("leaf-nodes"), clusters=2, leaf_nodes=True) as local:
        yield local


def test_a_create_converges_with_every_member_cluster_behind_its_leaf_node(leafed: LocalStack) -> None:
    state = load_state(leafed.paths)
    assert state is not None
    clusters = {c.name for c in state.clusters}
    assert clusters == set(state.leaf_node_urls) and state.nats_url not in state.leaf_node_urls.values()
    assert {f"nats-leaf-{cluster}" for cluster in clusters} <= {p.name for p in state.running()}
    apply(leafed, "leafy", "{replicaset: 3, auth: {rootPasswd: leaf-pass}}")
    wait_settled(leafed, "leafy", timeout=240)


def test_member_services_are_given_their_clusters_leaf_node_and_the_domain(tmp_path: Path) -> None:
    state = StackState(api_url="", nats_url="nats://hub", leaf_node_urls={"member-1": "nats://leaf-1"})
    state.jetstream_domain = "hub"
    env = member_env(LocalStack(tmp_path).paths, ["member-1"], state)
    assert (env["FEDSTATE_NATS_URL"], env["FEDSTATE_NATS_JETSTREAM_DOMAIN"]) == ("nats://leaf-1", "hub")
    assert "FEDSTATE_NATS_URL" not in member_env(LocalStack(tmp_path).paths, ["member-1"], None)
