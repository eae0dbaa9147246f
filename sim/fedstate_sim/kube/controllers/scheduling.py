"""Pure scheduling: a snapshot of nodes with their free resources, an ordered tuple of filters,
least-allocated scoring, and the kube-scheduler style verdict
``0/3 nodes are available: 3 Insufficient cpu.``
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from kubernetes.utils import parse_quantity

from fedstate_sim.kube.meta import Obj, labels_of, name_of, spec_of, status_of
from fedstate_sim.kube.selectors import Requirement

RESOURCES = ("cpu", "memory")


@lru_cache(maxsize=4096)
def quantity(text: str) -> Decimal:
    return Decimal(parse_quantity(text))


def pod_requests(pod: Obj) -> dict[str, Decimal]:
    """Sum of container requests (limits stand in for absent requests, as kube defaults them)."""
    total = dict.fromkeys(RESOURCES, Decimal(0))
    for container in spec_of(pod).get("containers") or []:
        resources = container.get("resources") or {}
        wanted = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        for resource in RESOURCES:
            if resource in wanted:
                total[resource] += quantity(str(wanted[resource]))
    return total


@dataclass
class NodeInfo:
    node: Obj
    allocatable: dict[str, Decimal]
    max_pods: int
    used: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(RESOURCES, Decimal(0)))
    pods: int = 0

    @classmethod
    def of(cls, node: Obj) -> NodeInfo:
        alloc = status_of(node).get("allocatable") or {}
        return cls(node, {r: quantity(str(alloc.get(r, "0"))) for r in RESOURCES}, int(alloc.get("pods", 110)))

    def add(self, requests: dict[str, Decimal]) -> None:
        for resource in RESOURCES:
            self.used[resource] += requests[resource]
        self.pods += 1

    def free(self, resource: str) -> Decimal:
        return self.allocatable[resource] - self.used[resource]


Filter = Callable[[Obj, dict[str, Decimal], NodeInfo], list[str]]


def fit_resources(pod: Obj, requests: dict[str, Decimal], info: NodeInfo) -> list[str]:
    """NodeResourcesFit: requests fit allocatable minus what bound pods already request."""
    reasons = [f"Insufficient {r}" for r in RESOURCES if requests[r] > info.free(r)]
    if info.pods + 1 > info.max_pods:
        reasons.append("Too many pods")
    return reasons


def unschedulable(pod: Obj, requests: dict[str, Decimal], info: NodeInfo) -> list[str]:
    """NodeUnschedulable: cordoned nodes take no new pods."""
    return ["node(s) were unschedulable"] if spec_of(info.node).get("unschedulable") else []


def node_affinity(pod: Obj, requests: dict[str, Decimal], info: NodeInfo) -> list[str]:
    """NodeAffinity: spec.nodeSelector and required nodeAffinity terms (ORed; expressions ANDed)."""
    labels = labels_of(info.node)
    selector = spec_of(pod).get("nodeSelector") or {}
    terms = (
        ((spec_of(pod).get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    fits = all(labels.get(k) == v for k, v in selector.items())
    fits = fits and (not terms or any(_term_matches(t, labels, name_of(info.node)) for t in terms))
    return [] if fits else ["node(s) didn't match Pod's node affinity/selector"]


def _term_matches(term: Obj, labels: dict[str, str], node_name: str) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    return all(_expression_matches(e, labels) for e in expressions) and all(
        _expression_matches(f, {"metadata.name": node_name}) for f in fields
    )


def _expression_matches(expr: Obj, labels: dict[str, str]) -> bool:
    op, key, values = expr.get("operator"), expr.get("key", ""), expr.get("values") or []
    return Requirement(key, str(op), frozenset(values)).matches(labels)


def taint_toleration(pod: Obj, requests: dict[str, Decimal], info: NodeInfo) -> list[str]:
    """TaintToleration: every NoSchedule/NoExecute taint must be tolerated."""
    tolerations = spec_of(pod).get("tolerations") or []
    for taint in spec_of(info.node).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not any(_tolerates(t, taint) for t in tolerations):
            return [f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"]
    return []


def _tolerates(toleration: Obj, taint: Obj) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("operator") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.get("key")
    return toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", "")


FILTERS: tuple[Filter, ...] = (unschedulable, node_affinity, taint_toleration, fit_resources)


def score(requests: dict[str, Decimal], info: NodeInfo) -> Decimal:
    """LeastAllocated: the mean free fraction of cpu and memory left after placing the pod."""
    fractions = [
        (info.free(r) - requests[r]) / info.allocatable[r] if info.allocatable[r] else Decimal(0) for r in RESOURCES
    ]
    return sum(fractions, Decimal(0)) / len(fractions)


@dataclass(frozen=True)
class Verdict:
    node: str | None
    message: str = ""


def choose_node(pod: Obj, nodes: list[NodeInfo]) -> Verdict:
    requests, reasons, fitting = pod_requests(pod), Counter[str](), []
    for info in nodes:
        failed = next((found for check in FILTERS if (found := check(pod, requests, info))), [])
        reasons.update(failed)
        if not failed:
            fitting.append(info)
    if fitting:
        best = max(fitting, key=lambda info: score(requests, info))  # ties: first node by name
        best.add(requests)
        return Verdict(name_of(best.node))
    return Verdict(None, unavailable(len(nodes), reasons))


def unavailable(total: int, reasons: Counter[str]) -> str:
    detail = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return f"0/{total} nodes are available: {detail}." if detail else f"0/{total} nodes are available."
