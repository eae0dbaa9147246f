"""Score: clusters whose candidate nodes match scheduler.affinity's preferred node-affinity terms rate higher.

Kubernetes semantics per node: the sum of the weights (1 to 100) of the preferred terms it matches. A
cluster scores its best candidate node's sum, as a share of the best cluster's, times 100; inside the
cluster the pods carry the same affinity, so its own scheduler then prefers those nodes too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..framework import Candidate, Context
from .node_affinity import matches_term

NAME = "NodePreference"
MAX_SCORE = 100.0


def preferred_terms(affinity: Mapping[str, Any] | None) -> list[tuple[int, Mapping[str, Any]]]:
    """(weight, preference) of each preferred term with a positive weight."""
    node_affinity = (affinity or {}).get("nodeAffinity") or {}
    terms = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    return [(int(t.get("weight") or 0), t.get("preference") or {}) for t in terms if int(t.get("weight") or 0) > 0]


class NodePreference:
    name = NAME

    def score(self, ctx: Context, candidates: Sequence[Candidate]) -> list[float]:
        terms = preferred_terms(ctx.spec.scheduler.affinity)
        if not terms:
            return [0.0 for _ in candidates]
        best = [c.table.remember((NAME, ctx.node_params(c.name)), _best_node, terms, c) for c in candidates]
        top = max(best, default=0)
        return [round(MAX_SCORE * value / top, 2) if top else 0.0 for value in best]


def _best_node(terms: list[tuple[int, Mapping[str, Any]]], candidate: Candidate) -> int:
    return max((sum(w for w, term in terms if matches_term(node, term)) for node in candidate.nodes), default=0)
