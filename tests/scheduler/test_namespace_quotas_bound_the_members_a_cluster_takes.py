"""A member cluster's ResourceQuotas in the instance's namespace bound how many members it takes: kube's quota
admission would refuse the pods past them (or any pod not setting the cpu or memory a quota counts), and the
StatefulSet would wait for them for ever. Members already there stay; promises in the same namespace count."""

from __future__ import annotations

from scheduler_builders import GI, cluster, layout, place, spec

from fedstate.models.cluster import ClusterSnapshot, NamespaceQuota, QuotaLeft
from fedstate.models.placement import Placement
from fedstate_scheduler.domain import Reservation
from fedstate_scheduler.domain.request import MemberShape, quota_charge

NAMESPACE = "team-a"


def with_quota(snapshot: ClusterSnapshot, namespace: str = NAMESPACE, **left: int) -> ClusterSnapshot:
    """The cluster with a quota in ``namespace`` leaving ``left`` (``requests_cpu=...``: dots as underscores)."""
    rooms = {name.replace("_", "."): QuotaLeft(room=room, quota="compute") for name, room in left.items()}
    return snapshot.model_copy(update={"quotas": {namespace: NamespaceQuota(left=rooms)}})


def reasons(placement: Placement, name: str) -> list[str]:
    return next(v.reasons for v in placement.verdicts if v.cluster == name)


def test_a_cluster_whose_namespace_quota_is_used_up_takes_no_member_and_says_which_quota() -> None:
    clusters = [with_quota(cluster("a"), pods=0), cluster("b"), cluster("c")]
    placement = place(spec(3), clusters, namespace=NAMESPACE)
    assert "a" not in layout(placement)
    assert 3 == sum(layout(placement).values())
    assert [
        f"namespace quota exhausted: ResourceQuota compute in namespace {NAMESPACE}: pods 0 left, a member needs 1"
    ] == reasons(placement, "a")


def test_a_quota_in_another_namespace_bounds_nothing() -> None:
    clusters = [with_quota(cluster("a"), namespace="team-b", pods=0), cluster("b"), cluster("c")]
    assert {"a": 1, "b": 1, "c": 1} == layout(place(spec(3), clusters, namespace=NAMESPACE))


def test_the_resource_with_the_least_room_bounds_the_members() -> None:
    """1.5 cores of requests.cpu left and 1-core members: one fits, whatever pods and memory would allow."""
    roomy = [cluster("a"), cluster("b"), cluster("c")]
    assert {"a": 2, "b": 2, "c": 2} == layout(place(spec(6), roomy, namespace=NAMESPACE))
    clusters = [with_quota(cluster("a"), pods=10, requests_cpu=1500, requests_memory=64 * GI), *roomy[1:]]
    placement = place(spec(6), clusters, namespace=NAMESPACE)
    assert 1 == layout(placement)["a"]
    assert 6 == sum(layout(placement).values())


def test_members_must_set_what_a_quota_counts() -> None:
    """A quota counting limits.cpu refuses pods whose containers set no cpu limit ("must specify"), room or not."""
    clusters = [with_quota(cluster("a"), limits_cpu=100_000), cluster("b"), cluster("c")]
    placement = place(spec(3), clusters, namespace=NAMESPACE)
    assert "a" not in layout(placement)
    assert [
        f"quota needs values the members do not set: ResourceQuota compute in namespace {NAMESPACE} counts limits.cpu,"
        " which every container of a member must then set"
    ] == reasons(placement, "a")
    limited = spec(3, resource={"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}})
    assert 1 == layout(place(limited, clusters, namespace=NAMESPACE)).get("a")


def test_members_already_there_stay_when_the_quota_is_used_up() -> None:
    """The members running there are in the quota's usage already: a full quota takes no new one, moves none."""
    clusters = [with_quota(cluster("a"), pods=0), cluster("b"), cluster("c")]
    before = place(spec(3), [cluster("a"), cluster("b"), cluster("c")], namespace=NAMESPACE)
    assert 1 == layout(before)["a"]
    after = place(spec(5), clusters, current=before, namespace=NAMESPACE, generation=2)
    assert 1 == layout(after)["a"]
    assert 5 == sum(layout(after).values())


def test_members_promised_in_the_same_namespace_take_their_room_first() -> None:
    """Room for two pods, one promised to another instance of the namespace (not running yet): one is left."""
    shape = MemberShape.of(spec())
    promised = Reservation("a", 1, shape, "other", NAMESPACE)
    elsewhere = Reservation("a", 1, shape, "unrelated", "team-b")
    clusters = [with_quota(cluster("a"), pods=2), cluster("b"), cluster("c")]
    assert 2 == layout(place(spec(6), clusters, namespace=NAMESPACE, reservations=(elsewhere,)))["a"]
    assert 1 == layout(place(spec(6), clusters, namespace=NAMESPACE, reservations=(promised,)))["a"]


def test_a_member_is_charged_its_pod_claim_and_every_containers_requests_and_limits() -> None:
    exported = spec(
        3,
        resource={"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1"}},
        export={"enable": True, "resource": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
        storage={"storageSize": "10Gi"},
    )
    assert {
        "pods": 1,
        "persistentvolumeclaims": 1,
        "requests.storage": 10 * GI,
        "requests.cpu": 600,
        "requests.memory": GI + 64 * (1 << 20),
        "limits.cpu": None,  # the exporter sets none
        "limits.memory": None,
    } == quota_charge(exported)


def test_what_a_limit_range_fills_in_counts_as_set() -> None:
    """The namespace's LimitRange gives every container a cpu limit: the quota counting limits.cpu takes the
    members, each charged the default limit (two of 1.5 cores fit in 3 left)."""
    quota = NamespaceQuota(
        left={"limits.cpu": QuotaLeft(room=3000, quota="compute")},
        defaults={"limits.cpu": 1500, "requests.cpu": 500},
    )
    clusters = [cluster("a").model_copy(update={"quotas": {NAMESPACE: quota}}), cluster("b"), cluster("c")]
    assert 2 == layout(place(spec(6), clusters, namespace=NAMESPACE))["a"]
    requests_only = spec(3, resource={"requests": {"cpu": "1"}, "limits": {"memory": "2Gi"}})
    charged = quota_charge(requests_only, {"limits.cpu": 1500, "requests.memory": 64})
    assert (1000, 1500, 2 * GI, 2 * GI) == (
        charged["requests.cpu"],
        charged["limits.cpu"],  # set by the LimitRange
        charged["limits.memory"],
        charged["requests.memory"],  # the limit, as kube's pod defaulting sets it before any LimitRange
    )
