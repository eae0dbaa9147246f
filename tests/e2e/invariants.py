"""What must hold after every lifecycle step (issue 5, item 7), checked against the running stack:

exactly one PRIMARY; at most 7 voters; the replica-set config's hosts are exactly the running
members; every w:"majority" write made before the step is still readable; no Kubernetes object of
the instance in any cluster beyond its members' own (retained data volumes aside, when asked).
"""

from __future__ import annotations

import base64
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from kubernetes import client, config
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient
from pymongo.write_concern import WriteConcern

from fedstate.api.resources import MULTICLOUD_MONGODB, Resource
from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import load_state

INSTANCE_LABEL = "app.kubernetes.io/instance"
# Heartbeats of a second: a failed cluster is noticed (4 s) and acted on (8 s) quickly.
FAST_FAILURE = {
    "FEDSTATE_HEARTBEAT_SECONDS": "1",
    "FEDSTATE_FAILURE_THRESHOLD_SECONDS": "4",
    "FEDSTATE_FAILOVER_AFTER_SECONDS": "8",
}
KINDS = ("stateful_set", "service", "pod", "secret", "config_map", "persistent_volume_claim")


def kube(stack: LocalStack, cluster: str) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(stack.paths.kubeconfig), context=cluster)


def api_answers(stack: LocalStack) -> Counter[tuple[str, str, str, str]]:
    """(cluster, verb, resource, HTTP code) → requests every member cluster's API answered (its /metrics)."""
    state = load_state(stack.paths)
    assert state is not None
    counted: Counter[tuple[str, str, str, str]] = Counter()
    for cluster in state.clusters:
        text = httpx.get(f"{cluster.api_url}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "apiserver_request_total":
                    labels = sample.labels
                    counted[(cluster.name, labels["verb"], labels["resource"], labels["code"])] += int(sample.value)
    return counted


def cluster_names(stack: LocalStack) -> list[str]:
    return [f"member-{k}" for k in range(1, stack.clusters + 1)]


def objects_of(
    stack: LocalStack, name: str, namespace: str = "default", skip: frozenset[str] = frozenset()
) -> dict[str, dict[str, set[str]]]:
    """cluster → kind → names of every object labelled with the instance (clusters in ``skip`` not asked)."""
    found: dict[str, dict[str, set[str]]] = {}
    for cluster in cluster_names(stack):
        if cluster in skip:
            continue
        with kube(stack, cluster) as api:
            core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
            listers = {
                "stateful_set": apps.list_namespaced_stateful_set,
                "service": core.list_namespaced_service,
                "pod": core.list_namespaced_pod,
                "secret": core.list_namespaced_secret,
                "config_map": core.list_namespaced_config_map,
                "persistent_volume_claim": core.list_namespaced_persistent_volume_claim,
            }
            selector = f"{INSTANCE_LABEL}={name}"
            kinds = {
                kind: {o.metadata.name for o in lister(namespace, label_selector=selector).items}
                for kind, lister in listers.items()
            }
        found[cluster] = {kind: names for kind, names in kinds.items() if names}
    return {cluster: kinds for cluster, kinds in found.items() if kinds}


def node_port_hosts(stack: LocalStack, name: str, namespace: str = "default") -> dict[str, str]:
    """member name → VIP:NodePort of its Service, over every cluster, for members whose pod is Ready."""
    hosts: dict[str, str] = {}
    for cluster in cluster_names(stack):
        with kube(stack, cluster) as api:
            core = client.CoreV1Api(api)
            vip = next(a.address for a in core.list_node().items[0].status.addresses if a.type == "ExternalIP")
            selector = f"{INSTANCE_LABEL}={name}"
            ready = {
                p.metadata.name.rsplit("-", 1)[0]
                for p in core.list_namespaced_pod(namespace, label_selector=selector).items
                if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
            }
            for svc in core.list_namespaced_service(namespace, label_selector=selector).items:
                port = next(p.node_port for p in svc.spec.ports if p.name == "mongodb")
                if svc.metadata.name in ready:
                    hosts[svc.metadata.name] = f"{vip}:{port}"
    return hosts


def auth_secrets(stack: LocalStack, name: str, namespace: str = "default") -> dict[str, dict[str, str]]:
    """cluster → the decoded ``<name>-auth`` Secret, for every cluster that has one."""
    found = {}
    for cluster in cluster_names(stack):
        with kube(stack, cluster) as api:
            core = client.CoreV1Api(api)
            for secret in core.list_namespaced_secret(namespace, field_selector=f"metadata.name={name}-auth").items:
                found[cluster] = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    return found


def claims_in_use(stack: LocalStack, name: str, namespace: str = "default") -> set[str]:
    """The volume claims the instance's pods mount, over every cluster."""
    used: set[str] = set()
    for cluster in cluster_names(stack):
        with kube(stack, cluster) as api:
            pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"{INSTANCE_LABEL}={name}")
            for pod in pods.items:
                used |= {
                    v.persistent_volume_claim.claim_name for v in pod.spec.volumes or [] if v.persistent_volume_claim
                }
    return used


@dataclass
class Ledger:
    """w:"majority" writes made along the way; each must stay readable after every later step."""

    uri: str
    markers: list[str] = field(default_factory=list)

    def client(self) -> MongoClient[dict[str, Any]]:
        return MongoClient(self.uri, serverSelectionTimeoutMS=20_000)

    def write(self) -> None:
        marker = uuid.uuid4().hex
        with self.client() as mongo:
            writes = mongo.ledger.get_collection("entries", write_concern=WriteConcern(w="majority", wtimeout=20_000))
            writes.insert_one({"_id": marker})
        self.markers.append(marker)

    def missing(self) -> list[str]:
        with self.client() as mongo:
            present = {d["_id"] for d in mongo.ledger.entries.find({"_id": {"$in": self.markers}})}
        return [m for m in self.markers if m not in present]


def uri_for(status: dict[str, Any], name: str, password: str) -> str:
    return f"mongodb://root:{password}@{status['externalAddr']}/?replicaSet={name}&authSource=admin"


def replica_set(uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(replSetGetStatus, replSetGetConfig config) as the primary sees them."""
    with MongoClient(uri, serverSelectionTimeoutMS=20_000) as mongo:
        return mongo.admin.command("replSetGetStatus"), mongo.admin.command("replSetGetConfig")["config"]


def check(
    stack: LocalStack,
    name: str,
    ledger: Ledger,
    *,
    retained_volumes: int | None = 0,
    extra_config_maps: int = 0,
    pull_secret: bool = False,
) -> dict[str, Any]:
    """Assert every invariant of item 7; returns the replica-set config. ``retained_volumes=None``: any number
    of data volumes no member mounts (members moved off a cluster keep theirs there)."""
    status, rs_config = replica_set(ledger.uri)
    states = [m["stateStr"] for m in status["members"]]
    assert 1 == states.count("PRIMARY"), states
    assert sum(1 for m in rs_config["members"] if m.get("votes", 1)) <= 7
    running = node_port_hosts(stack, name)
    assert sorted(running.values()) == sorted(m["host"] for m in rs_config["members"]), (running, rs_config["members"])
    assert [] == ledger.missing(), "a w:majority write was lost"
    members = {f"{name}-m{m['_id']}" for m in rs_config["members"]}
    arbiters = {f"{name}-m{m['_id']}" for m in rs_config["members"] if m.get("arbiterOnly")}
    found = objects_of(stack, name)
    every: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for kinds in found.values():
        for kind, names in kinds.items():
            every[kind] |= names
    assert members == every["stateful_set"] == every["service"], (members, found)
    assert {f"{m}-0" for m in members} == every["pod"]
    data_claims = claims_in_use(stack, name)
    assert data_claims <= every["persistent_volume_claim"]
    assert len(members - arbiters) == len(data_claims), every["persistent_volume_claim"]
    assert retained_volumes is None or retained_volumes == len(every["persistent_volume_claim"]) - len(data_claims)
    clusters_with_members = [c for c, kinds in found.items() if kinds.get("stateful_set")]
    assert {f"{name}-auth"} | ({f"{name}-pull"} if pull_secret else set()) == every["secret"]
    for cluster in clusters_with_members:
        assert f"{name}-auth" in found[cluster]["secret"], f"{cluster} has no auth Secret"
    assert extra_config_maps == sum(len(k.get("config_map", ())) for k in found.values())
    for cluster, kinds in found.items():
        if cluster not in clusters_with_members:
            assert set(kinds) <= {"persistent_volume_claim"}, f"orphans in {cluster}: {kinds}"
    return rs_config


def generation(stack: LocalStack, name: str, resource: Resource = MULTICLOUD_MONGODB) -> int:
    obj = stack.gateway.get_object(resource, "default", name)
    return int(obj.metadata.get("generation") or 0)


def wait_settled(stack: LocalStack, name: str, timeout: float = 120) -> dict[str, Any]:
    """Until the status describes the current generation, is Health, and nothing is left to do."""
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = stack.status(name)
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        if (
            status.get("state") == "Health"
            and status.get("observedGeneration") == generation(stack, name)
            and conditions.get("MembersConfigured") == "True"
            and conditions.get("MembersUpdated") == "True"
        ):
            return status
        time.sleep(0.3)
    raise AssertionError(f"{name} did not settle in {timeout}s; last status: {status}")


def wait_until(check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen in {timeout}s")


def wait_gone(stack: LocalStack, name: str, resource: Resource = MULTICLOUD_MONGODB, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.gateway.find_object(resource, "default", name) is None:
            return
        time.sleep(0.3)
    raise AssertionError(f"{name} still exists after {timeout}s")


def apply(stack: LocalStack, name: str, spec: str, kind: str = "MultiCloudMongoDB", *args: str) -> None:
    """``fedstate apply -f`` a one-object manifest with this flow-style ``spec``."""
    path = stack.workdir / f"{name}.yaml"
    path.write_text(
        f"apiVersion: middleware.fedstate.io/v1alpha1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec: {spec}\n"
    )
    stack.cli("apply", "-f", str(path), *args)


def created(stack: LocalStack, name: str, spec: str, password: str) -> tuple[dict[str, Any], Ledger]:
    """Apply a one-object manifest, wait until it is settled, make a first w:"majority" write and check
    every invariant: the opening of most lifecycle tests. Returns the status and the ledger."""
    apply(stack, name, spec)
    status = wait_settled(stack, name)
    ledger = Ledger(uri_for(status, name, password))
    ledger.write()
    check(stack, name, ledger)
    return status, ledger


Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(stack: LocalStack) -> tuple[set[str], Series]:
    """Every metric name the stack's services expose (declared ones without samples too), and every sample."""
    state = load_state(stack.paths)
    assert state is not None
    names: set[str] = set()
    series: Series = {}
    for url in {p.metrics_url for p in state.processes if p.metrics_url}:
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            names.add(f"{family.name}_total" if family.type == "counter" else family.name)
            for sample in family.samples:
                names.add(sample.name)
                series[sample.name, frozenset(sample.labels.items())] = sample.value
    return names, series
