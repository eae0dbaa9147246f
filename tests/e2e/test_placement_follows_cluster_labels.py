"""Cluster labels on a running stack (issue 14): each collector discovers its simulated cluster's region
and zone (node labels) and provider (a ClusterProperty), and the scheduler places members by them."""

from __future__ import annotations

from typing import Any

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.cli.localstack import LocalStack

from .invariants import created

REGION = "topology.kubernetes.io/region"
PASSWORD = "label-pass"


def members_by_cluster(status: dict[str, Any]) -> dict[str, int]:
    return {r["cluster"]: r["replicasetSpec"] for r in status["result"] if r["replicasetSpec"]}


def spec(fields: str) -> str:
    return f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}, {fields}}}"


def test_clusters_show_the_labels_their_collectors_discovered(stack: LocalStack) -> None:
    """`get clusters -o wide` ends each row with the cluster's provider, region and zone labels."""
    rows = stack.cli("get", "clusters", "-o", "wide").stdout.splitlines()[1:]
    labels = {row.split()[0]: row.split()[-1] for row in rows}
    assert "provider=aws,topology.kubernetes.io/region=eu-west,topology.kubernetes.io/zone=zone-1" == labels["member-1"]
    assert (
        "provider=azure,topology.kubernetes.io/region=us-east,topology.kubernetes.io/zone=zone-3" == labels["member-3"]
    )


def test_spread_by_the_region_label_keeps_every_member_in_one_region(stack: LocalStack) -> None:
    """``spreadByLabel`` region with ``maxGroups: 1`` puts the three members in eu-west (member-1 and
    member-2, the roomier region) and none in us-east (member-3), which is told why."""
    constraint = f"spreadConstraints: {{spreadConstraints: [{{spreadByLabel: {REGION}, maxGroups: 1}}]}}"
    status, _ = created(stack, "by-region", spec(constraint), PASSWORD)
    assert {"member-1", "member-2"} == set(members_by_cluster(status))
    placement = stack.gateway.placement(MULTICLOUD_MONGODB, "default", "by-region")
    assert placement is not None
    verdicts = {v.cluster: v.reasons for v in placement.verdicts}
    assert f"not selected: spread by {REGION} keeps 1 of 2 groups" in verdicts["member-3"]


def test_weights_selected_by_label_divide_the_members(stack: LocalStack) -> None:
    """Weighted mode with weight 4 for ``provider: gcp`` and 1 for region us-east gives member-2 (gcp) two
    members, member-3 (us-east) one, and member-1 (aws in eu-west, matching neither) none."""
    weights = f"[{{labelSelector: {{provider: gcp}}, weight: 4}}, {{labelSelector: {{{REGION}: us-east}}, weight: 1}}]"
    status, _ = created(
        stack, "by-weight", spec(f"scheduler: {{schedulerMode: Weighted, weights: {weights}}}"), PASSWORD
    )
    assert {"member-2": 2, "member-3": 1} == members_by_cluster(status)
