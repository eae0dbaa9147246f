"""Filter: a member may only land on a node whose NoSchedule/NoExecute taints it tolerates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fedstate.models.cluster import Taint

from ..framework import Candidate, Context, NodeTest, NodeVerdict, Rejection, Scope, kept

NAME = "TaintToleration"

# PreferNoSchedule is a wish, not a wall: it never filters.
_HARD_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


def tolerates(toleration: Mapping[str, Any], taint: Taint) -> bool:
    """Kubernetes' rule: same effect (or any), then Exists matches the key (or every key), Equal also the value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.effect:
        return False
    key = toleration.get("key") or ""
    if toleration.get("operator", "Equal") == "Exists":
        return not key or key == taint.key
    return key == taint.key and str(toleration.get("value") or "") == taint.value


def untolerated(tolerations: Sequence[Mapping[str, Any]], taints: Sequence[Taint]) -> list[Taint]:
    return [
        taint for taint in taints if taint.effect in _HARD_EFFECTS and not any(tolerates(t, taint) for t in tolerations)
    ]


def _tolerated(
    tolerations: Sequence[Mapping[str, Any]],
    taints: Sequence[Taint],
    verdicts: dict[tuple[tuple[str, str, str], ...], bool],
) -> bool:
    key = tuple((t.key, t.value, t.effect) for t in taints)
    known = verdicts.get(key)
    if known is None:
        known = verdicts[key] = not untolerated(tolerations, taints)
    return known


class TaintToleration:
    name = NAME
    scope: Scope = "nodes"

    def keeps(self, ctx: Context) -> NodeTest | None:
        tolerations = ctx.spec.scheduler.tolerations
        verdicts: dict[tuple[tuple[str, str, str], ...], bool] = {}
        return lambda node: not node.taints or _tolerated(tolerations, node.taints, verdicts)

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection:
        """Keep the nodes whose hard taints scheduler.tolerations all tolerate; none left rejects the cluster."""
        return kept(candidate, candidate.table.remember((NAME, ctx.node_key), lambda: _tolerating(ctx, candidate)))


def _tolerating(ctx: Context, candidate: Candidate) -> NodeVerdict:
    if not any(node.taints for node in candidate.nodes):
        return candidate.nodes
    tolerations = ctx.spec.scheduler.tolerations
    verdicts: dict[tuple[tuple[str, str, str], ...], bool] = {}  # nodes share taints: judge each set once
    nodes = tuple(
        [node for node in candidate.nodes if not node.taints or _tolerated(tolerations, node.taints, verdicts)]
    )
    if nodes:
        return nodes
    example = untolerated(tolerations, candidate.nodes[0].taints)[0]
    return Rejection(NAME, "untolerated taint", f"every candidate node has an untolerated taint, e.g. {_text(example)}")


def _text(taint: Taint) -> str:
    return f"{taint.key}={taint.value}:{taint.effect}" if taint.value else f"{taint.key}:{taint.effect}"
