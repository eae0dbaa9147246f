"""The snapshot counts each instance's running member pods: what releases the scheduler's reservations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fedstate.models.cluster import members_key
from fedstate_collector.snapshot import INSTANCE_LABEL, MEMBER_LABEL, build_snapshot

NODE = {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}}


def pod(name: str, labels: dict[str, str], *, node: str | None = "n1", phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "prod", "labels": labels},
        "spec": {"nodeName": node, "containers": []},
        "status": {"phase": phase},
    }


def member(instance: str, ordinal: int, **state: Any) -> dict[str, Any]:
    return pod(f"{instance}-m{ordinal}-0", {INSTANCE_LABEL: instance, MEMBER_LABEL: f"m{ordinal}"}, **state)


def test_only_member_pods_on_a_node_and_not_finished_count() -> None:
    pods = [
        member("orders", 0),
        member("orders", 1),
        member("orders", 2, node=None),  # not scheduled yet
        member("orders", 3, phase="Failed"),
        member("users", 0),
        pod("web-1", {INSTANCE_LABEL: "orders"}),  # the instance's name, but no member
    ]
    snapshot = build_snapshot(
        cluster="c1",
        vip="10.0.0.1",
        nodes=[NODE],
        pods=pods,
        storage_classes=[],
        services=[],
        labels={},
        agent_version="",
        now=datetime.now(UTC),
    )
    assert {members_key("prod", "orders"): 2, members_key("prod", "users"): 1} == snapshot.members
    assert 2 == snapshot.members_of("prod", "orders")
    assert 0 == snapshot.members_of("prod", "billing")
