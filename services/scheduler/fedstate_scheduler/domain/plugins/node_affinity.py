"""Filter: scheduler.affinity's required node-affinity terms must match some node.

Kubernetes semantics: the terms of ``nodeSelectorTerms`` are ORed, the expressions
inside one term are ANDed; ``matchFields`` understands ``metadata.name``.
Preferred terms do not filter (they are a scoring matter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fedstate.models.cluster import NodeResources

from ..framework import Candidate, Context, NodeTest, NodeVerdict, Rejection, Scope, kept

NAME = "NodeAffinity"

Term = Mapping[str, Any]


def required_terms(affinity: Mapping[str, Any] | None) -> list[Term]:
    node_affinity = (affinity or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    return list(required.get("nodeSelectorTerms") or [])


def _matches_expression(value: str | None, expression: Mapping[str, Any]) -> bool:
    operator = expression.get("operator", "In")
    values = [str(v) for v in expression.get("values") or []]
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator in ("Gt", "Lt") and value is not None and values:
        try:
            number, bound = int(value), int(values[0])
        except ValueError:
            return False
        return number > bound if operator == "Gt" else number < bound
    return False


def matches_term(node: NodeResources, term: Term) -> bool:
    """Every expression and field of the term holds for the node (an empty term matches nothing)."""
    expressions: Sequence[Mapping[str, Any]] = term.get("matchExpressions") or []
    fields: Sequence[Mapping[str, Any]] = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels_ok = all(_matches_expression(node.labels.get(e.get("key", "")), e) for e in expressions)
    fields_ok = all(_matches_expression(node.name if f.get("key") == "metadata.name" else None, f) for f in fields)
    return labels_ok and fields_ok


class NodeAffinity:
    name = NAME
    scope: Scope = "nodes"

    def keeps(self, ctx: Context) -> NodeTest | None:
        terms = required_terms(ctx.spec.scheduler.affinity)
        return (lambda node: _matches_any(node, terms)) if terms else None

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection:
        """Keep the nodes matching at least one required nodeSelectorTerm; none left rejects the cluster."""
        terms = required_terms(ctx.spec.scheduler.affinity)
        if not terms:
            return candidate
        return kept(candidate, candidate.table.remember((NAME, ctx.node_key), lambda: _matching(terms, candidate)))


def _matches_any(node: NodeResources, terms: list[Term]) -> bool:
    return any(matches_term(node, term) for term in terms)


def _matching(terms: list[Term], candidate: Candidate) -> NodeVerdict:
    nodes = tuple([node for node in candidate.nodes if _matches_any(node, terms)])
    if nodes:
        return nodes
    return Rejection(
        NAME, "node affinity mismatch", f"no candidate node matches any of the {len(terms)} required terms"
    )
