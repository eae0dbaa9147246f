"""deploy/k8s runs a NATS leaf node in each member cluster (decision 0022): the agent and the collector connect to it
and ask the hub's JetStream under the hub's domain; the leaf links to the hub's leaf node port as its cluster's leaf
user, with the users file ``fedstate bus users --jetstream-domain`` writes for it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fedstate.bus.identities import Component

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = "MEMBER_CLUSTER_NAME"
LEAF_USER = f"{Component.LEAF}-{PLACEHOLDER}"  # Identity.user, for a cluster the manifest names later


def documents(name: str) -> dict[tuple[str, str], dict[str, Any]]:
    loaded = [d for d in yaml.safe_load_all((ROOT / "deploy" / "k8s" / name).read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in loaded}


MEMBER = documents("member-cluster.yaml")
HUB = documents("nats.yaml")


def env_of(workload: dict[str, Any]) -> dict[str, Any]:
    [container] = workload["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def hub_domain() -> str:
    match = re.search(r"jetstream \{[^}]*domain: (\w+)", HUB[("ConfigMap", "nats-config")]["data"]["nats.conf"])
    assert match is not None
    return match.group(1)


def test_the_agent_and_the_collector_ask_the_hubs_domain_through_the_leaf() -> None:
    leaf_service = MEMBER[("Service", "fedstate-leaf")]
    port = leaf_service["spec"]["ports"][0]["port"]
    for name in ("fedstate-agent", "fedstate-collector"):
        env = env_of(MEMBER[("Deployment", name)])
        assert env["FEDSTATE_NATS_URL"] == f"nats://fedstate-leaf.{leaf_service['metadata']['namespace']}.svc:{port}"
        assert env["FEDSTATE_NATS_JETSTREAM_DOMAIN"] == hub_domain()


def test_the_leaf_links_to_the_hubs_leaf_node_port_as_its_clusters_leaf_user() -> None:
    leaf = MEMBER[("Deployment", "fedstate-leaf")]
    config = MEMBER[("ConfigMap", "fedstate-leaf-config")]["data"]["nats.conf"]
    hub_port = HUB[("Service", "nats-leafnodes")]["spec"]["ports"][0]["port"]
    assert f"nats-leaf://nats-leafnodes.fedstate.example:{hub_port}" in config
    assert f"port: {hub_port}" in HUB[("ConfigMap", "nats-config")]["data"]["nats.conf"]
    # No JetStream of its own: a client that forgot the domain is refused, never answered by an empty store.
    assert "jetstream" not in config
    assert "nkey: $LEAF_SEED" in config
    assert env_of(leaf)["LEAF_SEED"]["secretKeyRef"] == {"name": "fedstate-nats-leaf", "key": f"{LEAF_USER}.nk"}
    users = next(v for v in leaf["spec"]["template"]["spec"]["volumes"] if v["name"] == "users")["secret"]
    assert users["items"] == [{"key": f"{LEAF_USER}-users.conf", "path": "users.conf"}]  # as `bus users` names it
    assert "include ./users/users.conf" in config
