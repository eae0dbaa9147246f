"""Each filter plugin keeps or rejects a cluster, and a rejection names its reason."""

from __future__ import annotations

from datetime import timedelta

from scheduler_builders import GI, NOW, cluster, spec

from fedstate.models.cluster import Taint
from fedstate.models.multicloud import MultiCloudMongoDBSpec
from fedstate_scheduler.domain.framework import Candidate, Context, Rejection
from fedstate_scheduler.domain.plugins import FILTERS
from fedstate_scheduler.domain.plugins.cluster_ready import ClusterReady
from fedstate_scheduler.domain.plugins.member_fits import MemberFits
from fedstate_scheduler.domain.plugins.node_affinity import NodeAffinity
from fedstate_scheduler.domain.plugins.node_select import NodeSelect
from fedstate_scheduler.domain.plugins.storage_class import StorageClass
from fedstate_scheduler.domain.plugins.taint_toleration import TaintToleration
from fedstate_scheduler.domain.request import MemberShape


def context(wanted: MultiCloudMongoDBSpec) -> Context:
    return Context(spec=wanted, shape=MemberShape.of(wanted), now=NOW, failure_threshold=timedelta(seconds=20))


def reason(outcome: Candidate | Rejection) -> str:
    return outcome.reason if isinstance(outcome, Rejection) else "kept"


def test_filters_run_in_a_fixed_order_cheap_checks_first() -> None:
    """The plugin tuple is ordered: cluster-wide checks, then the most selective per-node ones, then the fit."""
    expected = [
        "ClusterReady",
        "StorageClass",
        "NamespaceQuota",
        "NodeSelect",
        "NodeAffinity",
        "TaintToleration",
        "NodeReady",
        "MemberFits",
    ]
    assert expected == [plugin.name for plugin in FILTERS]


def test_a_stale_heartbeat_makes_a_cluster_not_ready() -> None:
    """A snapshot older than the failure threshold rejects the cluster."""
    stale = Candidate.of(cluster("a", observed_at=NOW - timedelta(seconds=25)))
    outcome = ClusterReady().filter(context(spec()), stale)
    assert "cluster not ready: no heartbeat for over 20s (last at 2026-01-01T11:59:35+00:00)" == str(outcome)


def test_a_missing_storage_class_rejects_and_an_empty_one_needs_a_default() -> None:
    """storageClass must exist; without one the cluster needs a default class."""
    named = spec(storage={"storageClass": "fast"})
    assert "storage class missing" == reason(StorageClass().filter(context(named), Candidate.of(cluster("a"))))
    bare = Candidate.of(cluster("a", storage_classes=()))
    assert "storage class missing" == reason(StorageClass().filter(context(spec()), bare))
    assert "kept" == reason(StorageClass().filter(context(spec()), Candidate.of(cluster("a"))))


def test_node_select_keeps_only_matching_nodes() -> None:
    """nodeSelect labels must all match a node; a cluster with no such node is rejected."""
    wanted = spec(spreadConstraints={"nodeSelect": {"deploy": "mongo"}})
    assert "node selector mismatch" == reason(NodeSelect().filter(context(wanted), Candidate.of(cluster("a"))))
    labelled = Candidate.of(cluster("b", node_labels={"deploy": "mongo"}))
    assert "kept" == reason(NodeSelect().filter(context(wanted), labelled))


def test_required_node_affinity_terms_are_ored_and_their_expressions_anded() -> None:
    """A node matches when one term's expressions all hold."""
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]},
                                          {"key": "gpu", "operator": "DoesNotExist"}]},
                    {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
                ]
            }
        }
    }  # fmt: skip
    wanted = spec(scheduler={"affinity": affinity})
    ssd = Candidate.of(cluster("a", node_labels={"disk": "ssd"}))
    gpu = Candidate.of(cluster("b", node_labels={"disk": "ssd", "gpu": "yes"}))
    tier = Candidate.of(cluster("c", node_labels={"tier": "gold", "gpu": "yes"}))
    outcomes = [reason(NodeAffinity().filter(context(wanted), c)) for c in (ssd, gpu, tier)]
    assert ["kept", "node affinity mismatch", "kept"] == outcomes


def test_hard_taints_need_a_toleration_and_soft_ones_do_not() -> None:
    """NoSchedule taints must be tolerated; PreferNoSchedule never filters."""
    dedicated = Candidate.of(cluster("a", taints=[Taint(key="dedicated", value="db", effect="NoSchedule")]))
    soft = Candidate.of(cluster("b", taints=[Taint(key="spot", effect="PreferNoSchedule")]))
    tolerant = spec(scheduler={"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db"}]})
    assert "untolerated taint" == reason(TaintToleration().filter(context(spec()), dedicated))
    assert "kept" == reason(TaintToleration().filter(context(spec()), soft))
    assert "kept" == reason(TaintToleration().filter(context(tolerant), dedicated))


def test_a_member_must_fit_on_one_node_not_in_the_clusters_sum() -> None:
    """Many nodes with 1 free core each cannot host a 2-core member."""
    crumbs = Candidate.of(cluster("a", nodes=2000, cpu=1000))
    outcome = MemberFits().filter(context(spec(cpu="2")), crumbs)
    assert "insufficient cpu" == reason(outcome)
    assert "the most free CPU on a node is 1" in str(outcome)


def test_the_exporter_sidecar_counts_towards_a_members_requests() -> None:
    """mongod 1 CPU plus an exporter of 500m does not fit on a node with 1.2 CPU free."""
    exported = spec(cpu="1", export={"enable": True, "resource": {"requests": {"cpu": "500m", "memory": "64Mi"}}})
    assert MemberShape(1500, GI + 64 * (1 << 20)) == MemberShape.of(exported)
    assert "insufficient cpu" == reason(MemberFits().filter(context(exported), Candidate.of(cluster("a", cpu=1200))))


def test_capacity_counts_members_node_by_node() -> None:
    """Three nodes of 4 CPU hold 3 x 2 members of 1.5 CPU, not 8."""
    outcome = MemberFits().filter(context(spec(cpu="1500m")), Candidate.of(cluster("a", nodes=3, cpu=4000)))
    assert isinstance(outcome, Candidate) and 6 == outcome.capacity
