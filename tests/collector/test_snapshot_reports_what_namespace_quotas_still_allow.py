"""The snapshot reports, per namespace, what its ResourceQuotas still allow (hard less used, the least over its
quotas, kube's aliases folded in): what the scheduler bounds a cluster's members by."""

from __future__ import annotations

from typing import Any

from fedstate.models.cluster import NamespaceQuota, QuotaLeft
from fedstate_collector.snapshot import quota_rooms

GI = 1 << 30


def quota(namespace: str, name: str, hard: dict[str, str], used: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"hard": hard, **spec},
        "status": {"hard": hard, "used": used},
    }


def test_each_namespace_gets_the_least_room_over_its_quotas_in_exact_units() -> None:
    rooms = quota_rooms(
        [
            quota(
                "team-a", "compute", {"requests.cpu": "4", "memory": "8Gi"}, {"requests.cpu": "1500m", "memory": "1Gi"}
            ),
            quota("team-a", "counts", {"count/pods": "10", "cpu": "2"}, {"count/pods": "10", "cpu": "1500m"}),
            quota("team-b", "storage", {"requests.storage": "100Gi", "services": "5"}, {"requests.storage": "40Gi"}),
        ]
    )
    assert {
        "team-a": NamespaceQuota(
            left={
                "requests.cpu": QuotaLeft(room=500, quota="counts"),  # cpu is requests.cpu: 2 - 1.5 beats 4 - 1.5
                "requests.memory": QuotaLeft(room=7 * GI, quota="compute"),
                "pods": QuotaLeft(room=0, quota="counts"),
            }
        ),
        "team-b": NamespaceQuota(left={"requests.storage": QuotaLeft(room=60 * GI, quota="storage")}),
    } == rooms


def test_a_quota_over_its_limit_leaves_no_room_and_a_scoped_one_is_not_read() -> None:
    rooms = quota_rooms(
        [
            quota("team-a", "shrunk", {"pods": "2"}, {"pods": "5"}),  # lowered below what already runs
            quota("team-c", "best-effort", {"pods": "0"}, {"pods": "0"}, scopes=["BestEffort"]),
        ]
    )
    assert {"team-a": NamespaceQuota(left={"pods": QuotaLeft(room=0, quota="shrunk")})} == rooms


def limit_range(namespace: str, name: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}, "spec": {"limits": list(items)}}


def test_what_limit_ranges_fill_in_for_a_container_comes_with_the_namespaces_quota() -> None:
    """kube's LimitRanger fills a container's unset values from ``default`` (limits) and ``defaultRequest``
    (requests, else the default): the quota counts those, so the scheduler needs them. The first LimitRange by
    name fills a value first; other types of item fill nothing."""
    ranges = [
        limit_range(
            "team-a", "b-later", {"type": "Container", "default": {"cpu": "4"}, "defaultRequest": {"cpu": "3"}}
        ),
        limit_range(
            "team-a",
            "a-first",
            {"type": "Container", "default": {"cpu": "1", "memory": "1Gi"}, "defaultRequest": {"cpu": "250m"}},
            {"type": "Pod", "max": {"cpu": "8"}},
        ),
        limit_range("team-b", "elsewhere", {"type": "Container", "default": {"cpu": "2"}}),
    ]
    rooms = quota_rooms([quota("team-a", "compute", {"limits.cpu": "10"}, {"limits.cpu": "0"})], ranges)
    assert {
        "limits.cpu": 1000,
        "limits.memory": GI,
        "requests.cpu": 250,
        "requests.memory": GI,  # no defaultRequest for memory: the default limit
    } == rooms["team-a"].defaults
    assert {"team-a"} == set(rooms), "a LimitRange without a quota in its namespace bounds nothing here"
