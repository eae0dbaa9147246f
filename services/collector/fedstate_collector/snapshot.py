"""Build a ``ClusterSnapshot`` from what the Kubernetes API lists and the cluster labels (pure; plain dicts in)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kubernetes.utils import parse_quantity

from fedstate.models.cluster import ClusterSnapshot, NamespaceQuota, NodeResources, QuotaLeft, Taint, members_key

from .labels import REGION_LABEL, ZONE_LABEL

PROVIDER_LABEL = "fedstate.io/provider"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
_TERMINAL_PHASES = {"Succeeded", "Failed"}
# How the data-plane agent labels a member's pod (fedstate_agent.manifests): the instance, and which member.
INSTANCE_LABEL = "app.kubernetes.io/instance"
MEMBER_LABEL = "fedstate.io/member"


def millicores(quantity: Any) -> int:
    return int(parse_quantity(str(quantity)) * 1000) if quantity is not None else 0


def bytes_of(quantity: Any) -> int:
    return int(parse_quantity(str(quantity))) if quantity is not None else 0


def pod_requests(pod: Mapping[str, Any]) -> tuple[int, int]:
    """CPU millicores and memory bytes a pod requests (requests, else limits, as the scheduler counts)."""
    cpu = memory = 0
    for container in pod.get("spec", {}).get("containers", []):
        resources = container.get("resources") or {}
        asked = (resources.get("requests") or {}) | {
            k: v for k, v in (resources.get("limits") or {}).items() if k not in (resources.get("requests") or {})
        }
        cpu += millicores(asked.get("cpu"))
        memory += bytes_of(asked.get("memory"))
    return cpu, memory


def _node(node: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> NodeResources:
    allocatable = node.get("status", {}).get("allocatable", {})
    conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
    requests = [pod_requests(p) for p in pods]
    return NodeResources(
        name=node["metadata"]["name"],
        labels=node["metadata"].get("labels") or {},
        taints=[Taint.model_validate(t) for t in node.get("spec", {}).get("taints") or []],
        ready=conditions.get("Ready") == "True",
        schedulable=not node.get("spec", {}).get("unschedulable", False),
        allocatable_cpu_millis=millicores(allocatable.get("cpu")),
        allocatable_memory_bytes=bytes_of(allocatable.get("memory")),
        requested_cpu_millis=sum(c for c, _ in requests),
        requested_memory_bytes=sum(m for _, m in requests),
        allocatable_pods=int(allocatable.get("pods", 110)),
        pods=len(pods),
    )


def _members(pods: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Running member pods per instance (``members_key``): a member counts once its pod is on a node."""
    counted: Counter[str] = Counter()
    for pod in pods:
        meta = pod.get("metadata", {})
        labels = meta.get("labels") or {}
        if MEMBER_LABEL in labels and INSTANCE_LABEL in labels:
            counted[members_key(meta.get("namespace", ""), labels[INSTANCE_LABEL])] += 1
    return dict(sorted(counted.items()))


def _most_common(values: Iterable[str]) -> str:
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else ""


def _topology(field: str, well_known: str, labels: Mapping[str, str], node_labels: Sequence[Mapping[str, str]]) -> str:
    """A spread field (region, zone, provider): the cluster label of that name (``region=eu``), else the
    cluster label of the well-known key, else the value most nodes carry."""
    return labels.get(field) or labels.get(well_known) or _most_common(lbl.get(well_known, "") for lbl in node_labels)


def _external_ip(nodes: Sequence[Mapping[str, Any]]) -> str:
    for node in nodes:
        for address in node.get("status", {}).get("addresses", []):
            if address.get("type") == "ExternalIP":
                return str(address["address"])
    return ""


# What the snapshot reads of each kind: an informer tells the collector of a change only when this differs
# (a pod's probe times, a node's heartbeat in its conditions, a resourceVersion are no reason to look).


def pod_as_counted(pod: Mapping[str, Any]) -> object:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    resources = [c.get("resources") for c in spec.get("containers") or []]
    return meta.get("labels"), spec.get("nodeName"), (pod.get("status") or {}).get("phase"), resources


def node_as_counted(node: Mapping[str, Any]) -> object:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    ready = [c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    labels = (node.get("metadata") or {}).get("labels")
    return (
        labels,
        spec.get("taints"),
        spec.get("unschedulable"),
        status.get("allocatable"),
        ready,
        status.get("addresses"),
    )


def node_ports_of(service: Mapping[str, Any]) -> object:
    return [p.get("nodePort") for p in (service.get("spec") or {}).get("ports") or []]


# The quota resources the scheduler weighs, under one name each (kube's aliases: ``cpu`` is ``requests.cpu``,
# ``count/pods`` is ``pods``); other resources of a quota are not read.
_QUOTA_RESOURCES = {
    "pods": "pods",
    "count/pods": "pods",
    "cpu": "requests.cpu",
    "requests.cpu": "requests.cpu",
    "memory": "requests.memory",
    "requests.memory": "requests.memory",
    "limits.cpu": "limits.cpu",
    "limits.memory": "limits.memory",
    "persistentvolumeclaims": "persistentvolumeclaims",
    "count/persistentvolumeclaims": "persistentvolumeclaims",
    "requests.storage": "requests.storage",
}
_IN_MILLICORES = {"requests.cpu", "limits.cpu"}


def spec_as_counted(obj: Mapping[str, Any]) -> object:
    return obj.get("spec")


def quota_as_counted(quota: Mapping[str, Any]) -> object:
    status = quota.get("status") or {}
    return quota.get("spec"), status.get("hard"), status.get("used")


def container_defaults(limit_ranges: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per namespace, what its LimitRanges fill in for a container's unset cpu and memory (kube's LimitRanger: the
    ``default`` limits and ``defaultRequest`` requests of each ``Container`` item, the first LimitRange by name
    first; ``defaultRequest`` itself defaults to ``default``)."""
    found: dict[str, dict[str, int]] = {}
    for limit_range in sorted(limit_ranges, key=lambda r: (r.get("metadata") or {}).get("name", "")):
        filled = found.setdefault((limit_range.get("metadata") or {}).get("namespace", ""), {})
        for item in (limit_range.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            limits = item.get("default") or {}
            requests = {**limits, **(item.get("defaultRequest") or {})}
            for side, values in (("limits", limits), ("requests", requests)):
                for resource, measure in (("cpu", millicores), ("memory", bytes_of)):
                    if resource in values:
                        filled.setdefault(f"{side}.{resource}", measure(values[resource]))
    return {namespace: filled for namespace, filled in found.items() if filled}


def quota_rooms(
    quotas: Iterable[Mapping[str, Any]], limit_ranges: Iterable[Mapping[str, Any]] = ()
) -> dict[str, NamespaceQuota]:
    """What each namespace's ResourceQuotas still allow: ``status.hard`` less ``status.used`` (what the quota
    controller and the quota admission keep), the least over the namespace's quotas per resource, and what its
    LimitRanges fill in for a container. A quota with scopes is left out: which pods it counts depends on each pod
    (its QoS class, its priority class)."""
    rooms: dict[str, dict[str, QuotaLeft]] = {}
    for quota in quotas:
        spec, status, meta = quota.get("spec") or {}, quota.get("status") or {}, quota.get("metadata") or {}
        if spec.get("scopes") or spec.get("scopeSelector"):
            continue
        used = status.get("used") or {}
        for resource, limit in (status.get("hard") or {}).items():
            known = _QUOTA_RESOURCES.get(resource)
            if known is None:
                continue
            measure = millicores if known in _IN_MILLICORES else bytes_of
            room = max(0, measure(limit) - measure(used.get(resource)))
            left = rooms.setdefault(meta.get("namespace", ""), {})
            if known not in left or room < left[known].room:
                left[known] = QuotaLeft(room=room, quota=meta.get("name", ""))
    defaults = container_defaults(limit_ranges)
    return {
        namespace: NamespaceQuota(left=left, defaults=defaults.get(namespace, {}))
        for namespace, left in sorted(rooms.items())
    }


def class_as_counted(storage_class: Mapping[str, Any]) -> object:
    return ((storage_class.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION)


def build_snapshot(
    *,
    cluster: str,
    vip: str | None,
    nodes: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
    storage_classes: Sequence[Mapping[str, Any]],
    services: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
    agent_version: str,
    now: datetime,
    quotas: Iterable[Mapping[str, Any]] = (),
    limit_ranges: Iterable[Mapping[str, Any]] = (),
) -> ClusterSnapshot:
    live = [
        p
        for p in pods
        if p.get("spec", {}).get("nodeName") and p.get("status", {}).get("phase") not in _TERMINAL_PHASES
    ]
    by_node: dict[str, list[Mapping[str, Any]]] = {}
    for pod in live:
        by_node.setdefault(pod["spec"]["nodeName"], []).append(pod)
    node_labels = [n["metadata"].get("labels") or {} for n in nodes]
    defaults = [
        s["metadata"]["name"]
        for s in storage_classes
        if (s["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"
    ]
    return ClusterSnapshot(
        name=cluster,
        vip=vip or _external_ip(nodes),
        region=_topology("region", REGION_LABEL, labels, node_labels),
        zone=_topology("zone", ZONE_LABEL, labels, node_labels),
        provider=_topology("provider", PROVIDER_LABEL, labels, node_labels),
        labels=dict(labels),
        nodes=[_node(n, by_node.get(n["metadata"]["name"], [])) for n in nodes],
        storage_classes=sorted(s["metadata"]["name"] for s in storage_classes),
        default_storage_class=defaults[0] if defaults else None,
        node_ports_used=sum(1 for s in services for p in s.get("spec", {}).get("ports") or [] if p.get("nodePort")),
        agent_version=agent_version,
        members=_members(live),
        quotas=quota_rooms(quotas, limit_ranges),
        observed_at=now,
    )
