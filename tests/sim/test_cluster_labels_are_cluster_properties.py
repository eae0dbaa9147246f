"""A simulated cluster says what it is as a real one would: region and zone on its nodes, provider and
labels as ClusterProperty objects (SIG-Multicluster about-api)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fedstate_sim.config import ClusterConfig, default_config, load_config
from fedstate_sim.kube.bootstrap import PROPERTY_GROUP, PROPERTY_PLURAL
from fedstate_sim.kube.cluster import SimCluster
from fedstate_sim.world import NullMemberHost


def test_the_default_layout_gives_every_cluster_its_own_region_and_provider() -> None:
    """Two clusters per region, providers in turn: no two of six clusters look alike."""
    clusters = default_config(6).clusters
    pairs = [(c.region, c.provider) for c in clusters]
    assert [("eu-west", "aws"), ("eu-west", "gcp"), ("us-east", "azure")] == pairs[:3]
    assert len(set(pairs)) == 6


def test_provider_and_labels_become_cluster_properties_served_in_both_versions() -> None:
    """``provider`` and each label is one ClusterProperty, listed under v1beta1 and v1alpha1."""
    config = ClusterConfig(name="m1", provider="aws", labels={"tier": "gold"}, vip="127.0.0.9")
    store = SimCluster(config, default_config(1).settings, NullMemberHost()).store
    for version in ("v1beta1", "v1alpha1"):
        rtype = store.registry.find(PROPERTY_GROUP, version, PROPERTY_PLURAL)
        assert rtype is not None and not rtype.namespaced
        items = {o["metadata"]["name"]: o["spec"]["value"] for o in store.list(rtype)}
        assert {"provider": "aws", "tier": "gold"} == items


def test_a_yaml_config_sets_labels_and_provider(tmp_path: Path) -> None:
    """``fedstate up --sim-config`` YAML gives a cluster its provider and labels; a label wins over provider."""
    path = tmp_path / "sim.yaml"
    path.write_text(
        "clusters:\n  - {name: m1, provider: hetzner, labels: {tier: gold}}\n  - {name: m2, labels: {provider: onprem}}\n"
    )
    clusters = load_config(path).clusters
    assert [{"provider": "hetzner", "tier": "gold"}, {"provider": "onprem"}] == [c.properties for c in clusters]


@pytest.mark.parametrize("key", ["topology.kubernetes.io/region", "Tier", "x" * 64])
def test_a_label_that_cannot_be_a_cluster_property_is_refused(key: str) -> None:
    """Keys with a prefix, capitals or over 63 characters are refused with the rule spelled out."""
    with pytest.raises(ValidationError, match="ClusterProperty names, lowercase DNS subdomains"):
        ClusterConfig(name="m1", labels={key: "x"})
