"""Cluster labels: what a member cluster says about itself, then what the collector's settings add.

Later sources win per key (docs/decisions/0006-cluster-labels.md):

1. the nodes' ``topology.kubernetes.io/region`` and ``topology.kubernetes.io/zone``, each when every
   node carries the same value (a cluster spread over zones has no zone label);
2. ``ClusterProperty`` objects (``about.k8s.io``, SIG-Multicluster): the name is the key, ``spec.value``
   the value — those that cannot be a label (a value longer than 63 characters) are skipped;
3. the settings (``FEDSTATE_CLUSTER_LABELS``).

Pure: plain dicts in, as the Kubernetes API lists them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fedstate.models.labels import label_errors

REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
AGREED_NODE_LABELS = (REGION_LABEL, ZONE_LABEL)


def agreed_node_labels(nodes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The topology labels every node carries with one and the same value."""
    labels: dict[str, str] = {}
    for key in AGREED_NODE_LABELS:
        values = {(node["metadata"].get("labels") or {}).get(key) for node in nodes}
        value = values.pop() if len(values) == 1 else None
        if value:
            labels[key] = value
    return labels


@dataclass
class PropertyLabels:
    labels: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # property name → why it is not a label


def property_labels(properties: Sequence[Mapping[str, Any]]) -> PropertyLabels:
    """One label per ClusterProperty whose name and value make a valid label."""
    result = PropertyLabels()
    for prop in properties:
        name, value = prop["metadata"]["name"], str((prop.get("spec") or {}).get("value", ""))
        errors = label_errors(name, value)
        if errors:
            result.skipped[name] = "; ".join(errors)
        else:
            result.labels[name] = value
    return result


def cluster_labels(
    nodes: Sequence[Mapping[str, Any]], properties: Mapping[str, str], configured: Mapping[str, str]
) -> dict[str, str]:
    """Node topology, then ClusterProperty labels, then the configured ones: the last source wins per key."""
    merged = agreed_node_labels(nodes) | dict(properties) | dict(configured)
    return dict(sorted(merged.items()))
