"""Where a cluster's labels come from, and which source wins (pure; no cluster, no bus)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from fedstate_collector.labels import REGION_LABEL, ZONE_LABEL, cluster_labels, property_labels
from fedstate_collector.properties import served_version
from fedstate_collector.settings import CollectorSettings
from fedstate_collector.snapshot import build_snapshot

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def topology(region: str, zone: str) -> dict[str, str]:
    return {REGION_LABEL: region, ZONE_LABEL: zone}


def prop(name: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "about.k8s.io/v1beta1",
        "kind": "ClusterProperty",
        "metadata": {"name": name},
        "spec": {"value": value},
    }


def nodes_in(*zones: str, region: str = "eu") -> list[dict[str, Any]]:
    return [{"metadata": {"name": f"n{i}", "labels": topology(region, z)}} for i, z in enumerate(zones)]


def snapshot_of(labels: dict[str, str], nodes: list[dict[str, Any]] | None = None) -> Any:
    return build_snapshot(
        cluster="c1", vip="127.0.0.1", nodes=nodes or [], pods=[], storage_classes=[], services=[],
        labels=labels, agent_version="test", now=NOW,
    )  # fmt: skip


def test_region_and_zone_are_labels_when_every_node_agrees() -> None:
    """Three nodes in one zone of one region label the cluster with both."""
    assert topology("eu", "eu-a") == cluster_labels(nodes_in("eu-a", "eu-a", "eu-a"), {}, {})


def test_a_cluster_over_several_zones_has_a_region_label_but_no_zone_label() -> None:
    """Nodes in two zones agree on the region only."""
    assert {REGION_LABEL: "eu"} == cluster_labels(nodes_in("eu-a", "eu-b", "eu-a"), {}, {})


def test_a_node_without_the_label_means_no_agreement() -> None:
    """One unlabelled node among labelled ones leaves the cluster without that label."""
    nodes = [*nodes_in("eu-a", "eu-a"), {"metadata": {"name": "bare", "labels": {}}}]
    assert {} == cluster_labels(nodes, {}, {})


def test_cluster_properties_become_labels_and_those_that_cannot_are_skipped() -> None:
    """A ClusterProperty is name=value; a value too long or a name no label key can be is skipped with a reason."""
    found = property_labels([prop("tier", "gold"), prop("cluster.clusterset.k8s.io", "x" * 64), prop("Tier", "a b")])
    assert {"tier": "gold"} == found.labels
    assert {"cluster.clusterset.k8s.io", "Tier"} == set(found.skipped)
    assert "no more than 63 characters" in found.skipped["cluster.clusterset.k8s.io"]


def test_properties_win_over_nodes_and_settings_win_over_both() -> None:
    """The same key from the nodes, a ClusterProperty and the settings takes the settings' value."""
    nodes = nodes_in("eu-a")
    assert "eu" == cluster_labels(nodes, {}, {})[REGION_LABEL]
    assert "us" == cluster_labels(nodes, {REGION_LABEL: "us"}, {})[REGION_LABEL]
    assert "ap" == cluster_labels(nodes, {REGION_LABEL: "us"}, {REGION_LABEL: "ap"})[REGION_LABEL]


def test_spread_fields_take_the_label_of_their_own_name_first() -> None:
    """``region=eu`` (settings or a ClusterProperty) sets the region the scheduler spreads by, over the nodes'."""
    snapshot = snapshot_of({"region": "eu", "provider": "aws", REGION_LABEL: "us"}, nodes_in("z1", region="us"))
    assert ("eu", "aws", "z1") == (snapshot.region, snapshot.provider, snapshot.zone)
    assert "eu" == snapshot.group_value("region")
    assert "us" == snapshot.group_value(REGION_LABEL)


def test_spread_fields_fall_back_to_the_well_known_labels() -> None:
    """Without a ``region`` label, the region is the well-known topology label's value."""
    assert ("us", "us-1") == (lambda s: (s.region, s.zone))(snapshot_of({REGION_LABEL: "us", ZONE_LABEL: "us-1"}))


def test_settings_read_labels_as_kubectl_writes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """``FEDSTATE_CLUSTER_LABELS=region=eu,provider=aws`` and ``--cluster-labels`` give the same labels."""
    monkeypatch.setenv("FEDSTATE_CLUSTER", "member-1")
    monkeypatch.setenv("FEDSTATE_CLUSTER_LABELS", "region=eu, provider=aws")
    assert {"region": "eu", "provider": "aws"} == CollectorSettings().cluster_labels
    flags = CollectorSettings(_cli_parse_args=["--cluster-labels", "tier=gold,fedstate.io/team=db"])  # type: ignore[call-arg]
    assert {"tier": "gold", "fedstate.io/team": "db"} == flags.cluster_labels


def test_invalid_labels_stop_the_collector_with_one_clear_line() -> None:
    """A bad label key ends the collector at start with the variable, the flag and the rule; no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "fedstate_collector", "--cluster", "member-1", "--cluster-labels", "tier=gold,Bad Key=x"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert 1 == result.returncode
    assert [
        'error: invalid setting FEDSTATE_CLUSTER_LABELS (--cluster-labels): invalid label key "Bad Key": '
        "a label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')"
    ] == result.stderr.splitlines()


def definition(*served: str, unserved: tuple[str, ...] = ()) -> dict[str, Any]:
    versions = [{"name": v, "served": True} for v in served] + [{"name": v, "served": False} for v in unserved]
    return {"metadata": {"name": "clusterproperties.about.k8s.io"}, "spec": {"versions": versions}}


@pytest.mark.parametrize(
    ("crd", "read_in"),
    [
        (definition("v1alpha1", "v1beta1"), "v1beta1"),
        (definition("v1alpha1"), "v1alpha1"),
        (definition("v1alpha1", unserved=("v1beta1",)), "v1alpha1"),
        (definition("v1", unserved=("v1beta1", "v1alpha1")), None),
        (None, None),
    ],
)
def test_cluster_properties_are_read_in_the_newest_version_their_crd_serves(
    crd: dict[str, Any] | None, read_in: str | None
) -> None:
    """v1beta1 when served, else v1alpha1; a version we do not know, or no CRD, is no properties API at all."""
    assert read_in == served_version(crd)
