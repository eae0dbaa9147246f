"""The objects a fresh simulated cluster starts with: system namespaces, the nodes and storage
classes of its ``ClusterConfig``, and its ClusterProperty objects (with their CRD, as SIG-Multicluster's
about-api installs it) for the provider and the labels.
"""

from __future__ import annotations

from fedstate_sim.config import ClusterConfig, NodeGroup
from fedstate_sim.kube.defaults import DEFAULT_CLASS_ANNOTATION, PROVISIONER
from fedstate_sim.kube.meta import Obj
from fedstate_sim.kube.resources import CRDS, NAMESPACES, NODES, STORAGECLASSES
from fedstate_sim.kube.store import ObjectStore

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
KUBELET_VERSION = "v1.31.0-fedstate-sim"
PROPERTY_GROUP, PROPERTY_VERSION, PROPERTY_PLURAL = "about.k8s.io", "v1beta1", "clusterproperties"


def bootstrap(store: ObjectStore, cluster: ClusterConfig) -> None:
    for name in SYSTEM_NAMESPACES:
        store.create(NAMESPACES, {"metadata": {"name": name}})
    for node in nodes_for(cluster, store.clock.timestamp()):
        store.create(NODES, node)
    default = cluster.effective_default_storage_class
    for name in cluster.storage_classes:
        store.create(STORAGECLASSES, storage_class(name, name == default))
    store.create(CRDS, cluster_property_crd())
    properties = store.registry.find(PROPERTY_GROUP, PROPERTY_VERSION, PROPERTY_PLURAL)
    assert properties is not None
    for name, value in cluster.properties.items():
        store.create(properties, cluster_property(name, value))


def cluster_property_crd() -> Obj:
    """``clusterproperties.about.k8s.io`` (KEP-2149): cluster-scoped, v1beta1 stored, v1alpha1 served too."""
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["value"],
                "properties": {"value": {"type": "string", "minLength": 1}},
            }
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PROPERTY_PLURAL}.{PROPERTY_GROUP}"},
        "spec": {
            "group": PROPERTY_GROUP,
            "names": {"kind": "ClusterProperty", "plural": PROPERTY_PLURAL, "singular": "clusterproperty"},
            "scope": "Cluster",
            "versions": [
                {"name": "v1alpha1", "served": True, "storage": False, "schema": {"openAPIV3Schema": schema}},
                {"name": PROPERTY_VERSION, "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}},
            ],
        },
    }


def cluster_property(name: str, value: str) -> Obj:
    return {
        "apiVersion": f"{PROPERTY_GROUP}/{PROPERTY_VERSION}",
        "kind": "ClusterProperty",
        "metadata": {"name": name},
        "spec": {"value": value},
    }


def storage_class(name: str, default: bool) -> Obj:
    annotations = {DEFAULT_CLASS_ANNOTATION: "true"} if default else {}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": annotations},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": True,
    }


def nodes_for(cluster: ClusterConfig, now: str) -> list[Obj]:
    nodes, index = [], 1
    for group in cluster.nodes:
        for _ in range(group.count):
            nodes.append(node(cluster, group, f"{cluster.name}-node-{index}", now))
            index += 1
    return nodes


def node(cluster: ClusterConfig, group: NodeGroup, name: str, now: str) -> Obj:
    labels = {
        **group.labels,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "topology.kubernetes.io/region": cluster.region,
        "topology.kubernetes.io/zone": cluster.zone,
    }
    resources = {"cpu": group.cpu, "memory": group.memory, "pods": str(group.pods), "ephemeral-storage": "100Gi"}
    spec: Obj = {"providerID": f"sim://{cluster.name}/{name}"}
    if group.taints:
        spec["taints"] = [t.model_dump() for t in group.taints]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {
            "capacity": resources,
            "allocatable": dict(resources),
            "conditions": _conditions(now),
            "addresses": [
                {"type": "InternalIP", "address": cluster.vip},
                {"type": "ExternalIP", "address": cluster.vip},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": _node_info(name),
            "phase": "Running",
        },
    }


def _conditions(now: str) -> list[Obj]:
    quiet = [
        (kind, "False", f"KubeletHas{suffix}", f"kubelet has {text}")
        for kind, suffix, text in (
            ("MemoryPressure", "SufficientMemory", "sufficient memory available"),
            ("DiskPressure", "NoDiskPressure", "no disk pressure"),
            ("PIDPressure", "SufficientPID", "sufficient PID available"),
        )
    ]
    rows = [*quiet, ("Ready", "True", "KubeletReady", "kubelet is posting ready status (fedstate simulator)")]
    return [
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        for kind, status, reason, message in rows
    ]


def _node_info(name: str) -> Obj:
    return {
        "architecture": "amd64",
        "bootID": f"sim-{name}",
        "containerRuntimeVersion": "sim://fedstate-simulator",
        "kernelVersion": "simulated",
        "kubeProxyVersion": KUBELET_VERSION,
        "kubeletVersion": KUBELET_VERSION,
        "machineID": f"sim-{name}",
        "operatingSystem": "linux",
        "osImage": "fedstate simulator (not a real node)",
        "systemUUID": f"sim-{name}",
    }
