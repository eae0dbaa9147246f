"""Label and field selectors: matching, ``metav1.LabelSelector`` objects, and the ``fieldSelector`` syntax.

Fields: ``path=value``, ``path==value``, ``path!=value`` on the field labels kube-apiserver supports
for the kind (``metadata.name``, ``metadata.namespace``, ``spec.nodeName``, ``status.phase``...). The
``labelSelector`` query syntax is parsed in ``label_syntax``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fedstate_sim.kube import errors
from fedstate_sim.kube.meta import Obj, labels_of, lookup

_EQ_RE = re.compile(r"^(?P<key>[^\s!=]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s]*)$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op in ("Gt", "Lt"):
            return present and _compare(labels[self.key], self.op, self.values)
        if self.op == "In":
            return present and labels[self.key] in self.values
        if self.op == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.op == "Exists":
            return present
        return not present


def _compare(label: str, op: str, values: frozenset[str]) -> bool:
    """Gt/Lt: both sides integers (a label that is not one never matches)."""
    try:
        actual, bound = int(label), int(next(iter(values)))
    except (ValueError, StopIteration):
        return False
    return actual > bound if op == "Gt" else actual < bound


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(req.matches(labels) for req in self.requirements)

    def matches_object(self, obj: Obj) -> bool:
        return self.matches(labels_of(obj))

    @property
    def empty(self) -> bool:
        return not self.requirements


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def from_label_selector_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions)."""
    if not selector:
        return LabelSelector()
    reqs = [Requirement(k, "In", frozenset({v})) for k, v in (selector.get("matchLabels") or {}).items()]
    reqs += [_expression(expr) for expr in selector.get("matchExpressions") or []]
    return LabelSelector(tuple(reqs))


def _expression(expr: Mapping[str, Any]) -> Requirement:
    return Requirement(expr.get("key", ""), expr.get("operator", "Exists"), frozenset(expr.get("values") or ()))


def from_match_labels(labels: Mapping[str, str] | None) -> LabelSelector:
    return from_label_selector_object({"matchLabels": dict(labels or {})})


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[tuple[str, bool, str], ...] = ()  # (path, equal, value)

    def matches(self, obj: Obj) -> bool:
        return all((_field_text(obj, path) == value) == equal for path, equal, value in self.terms)

    def value_for(self, path: str) -> str | None:
        """The value an equality term pins ``path`` to, if any (used to narrow a scan)."""
        for term_path, equal, value in self.terms:
            if term_path == path and equal:
                return value
        return None

    @property
    def empty(self) -> bool:
        return not self.terms


def _field_text(obj: Obj, path: str) -> str:
    value = lookup(obj, path)
    return "" if value is None else str(value)


# The field labels kube-apiserver supports per kind (every kind: metadata.name and metadata.namespace); any
# other is a 400 "field label not supported", so code that works here works on a real cluster.
_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_FIELDS_BY_KIND: dict[tuple[str, str], frozenset[str]] = {
    ("", "Pod"): frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        }
    ),
    ("", "Node"): frozenset({"spec.unschedulable"}),
    ("", "Secret"): frozenset({"type"}),
    ("", "Namespace"): frozenset({"status.phase"}),
    ("", "Event"): frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    ("apps", "ReplicaSet"): frozenset({"status.replicas"}),
    ("batch", "Job"): frozenset({"status.successful"}),
}


def supported_field_labels(group: str, kind: str) -> frozenset[str]:
    return _COMMON_FIELDS | _FIELDS_BY_KIND.get((group, kind), frozenset())


def parse_field_selector(text: str | None, group: str | None = None, kind: str | None = None) -> FieldSelector:
    """Parse ``fieldSelector``; with the resource's group and kind, refuse a field the kind does not support."""
    if not text:
        return FieldSelector()
    terms = []
    supported = supported_field_labels(group or "", kind) if kind is not None else None
    for part in _split_top_level(text):
        match = _EQ_RE.match(part)
        if not match:
            raise errors.bad_request(f"invalid field selector: {part!r}")
        if supported is not None and match["key"] not in supported:
            raise errors.bad_request(f"field label not supported: {match['key']}")
        terms.append((match["key"], match["op"] != "!=", match["value"]))
    return FieldSelector(tuple(terms))
