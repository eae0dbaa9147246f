"""ResourceQuotas in a member cluster: one whose room the collector can read keeps the scheduler from placing
members there (the placement names the quota); one it cannot weigh (a scoped quota) lets a member be placed whose
pod the StatefulSet controller may not create, and the instance's status says so in Kubernetes' words (the
``FailedCreate`` event's message) until the quota is lifted, when the set becomes Health."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client

from fedstate.cli.localstack import LocalStack

from .invariants import apply, kube, wait_gone, wait_settled, wait_until

CLUSTER = "member-1"
QUOTA = "no-more-pods"


def troubles(status: dict[str, Any]) -> str:
    return " ".join(str(c.get("message", "")) for c in status.get("conditions", []))


def reported_quotas(stack: LocalStack) -> dict[str, Any]:
    """What member-1's collector reports of the default namespace's quotas (``GET /clusters/<name>``)."""
    return dict(stack.gateway.call("GET", f"/clusters/{CLUSTER}").json().get("quotas", {}).get("default", {}))


@contextmanager
def quota_in(stack: LocalStack, spec: dict[str, Any]) -> Iterator[None]:
    """A ResourceQuota in member-1's default namespace for the duration; one without scopes once its collector
    reports it (the scheduler reads no scoped quota)."""
    with kube(stack, CLUSTER) as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_resource_quota("default", {"metadata": {"name": QUOTA}, "spec": spec})
        try:
            if "scopeSelector" not in spec:
                wait_until(
                    lambda: QUOTA in str(reported_quotas(stack)), f"{CLUSTER}'s collector reporting it", timeout=30
                )
            yield
        finally:
            core.delete_namespaced_resource_quota(QUOTA, "default")


def deleted(stack: LocalStack, name: str) -> None:
    stack.cli("delete", "mcm", name)
    wait_gone(stack, name)


def test_a_cluster_whose_namespace_quota_is_used_up_gets_no_member_and_the_placement_says_why(
    stack: LocalStack,
) -> None:
    name = "quota-avoided"
    with quota_in(stack, {"hard": {"pods": "0"}}):
        described = ""

        def told() -> bool:
            nonlocal described
            described = stack.cli("describe", "mcm", name, check=False).stdout
            return "namespace quota exhausted" in described

        assert {"room": 0, "quota": QUOTA} == reported_quotas(stack)["left"]["pods"]
        apply(stack, name, "{replicaset: 3}")
        wait_until(told, "the placement naming the quota")
        assert f"ResourceQuota {QUOTA} in namespace default: pods 0 left, a member needs 1" in described
        status = wait_settled(stack, name)
        assert CLUSTER not in {r["cluster"] for r in status["result"] if r.get("replicasetSpec")}
    deleted(stack, name)


def test_a_quota_counting_cpu_limits_takes_members_once_a_limit_range_sets_them(stack: LocalStack) -> None:
    """The members set no cpu limit: under a quota counting limits.cpu their pods would be refused ("must
    specify"), so member-1 is not eligible; with a LimitRange giving containers a default cpu limit there, it is,
    and the set becomes Health with its member there charged the default."""
    name = "limit-ranged"
    with quota_in(stack, {"hard": {"limits.cpu": "10"}}):
        apply(stack, name, "{replicaset: 3}")
        wait_until(lambda: "quota needs values" in stack.cli("describe", "mcm", name).stdout, "member-1 left out")
        assert CLUSTER not in {r["cluster"] for r in wait_settled(stack, name)["result"] if r.get("replicasetSpec")}
        deleted(stack, name)
        with kube(stack, CLUSTER) as api:
            core = client.CoreV1Api(api)
            limits = {"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"}}
            core.create_namespaced_limit_range(
                "default", {"metadata": {"name": "defaults"}, "spec": {"limits": [limits]}}
            )
            try:
                wait_until(
                    lambda: (
                        {"limits.cpu": 500, "limits.memory": 512 << 20}.items()
                        <= reported_quotas(stack).get("defaults", {}).items()
                    ),
                    f"{CLUSTER}'s collector reporting the LimitRange's defaults",
                    timeout=30,
                )
                apply(stack, name, "{replicaset: 3}")
                status = wait_settled(stack, name)
                assert CLUSTER in {r["cluster"] for r in status["result"] if r.get("replicasetSpec")}
                used = core.read_namespaced_resource_quota(QUOTA, "default").status.used
                assert "500m" == used["limits.cpu"], used
            finally:
                core.delete_namespaced_limit_range("defaults", "default")
    deleted(stack, name)


def test_a_pod_a_scoped_quota_refuses_is_quoted_in_the_status_and_created_once_the_quota_is_lifted(
    stack: LocalStack,
) -> None:
    """A quota on pods without a priority class: the collector reads no scoped quota, so member-1 gets a member."""
    name = "quotaed"
    scoped = {
        "hard": {"pods": "0"},
        "scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "DoesNotExist"}]},
    }
    with quota_in(stack, scoped):
        apply(stack, name, "{replicaset: 3}")
        wait_until(lambda: QUOTA in troubles(stack.status(name)), "the status quoting the quota's refusal")
        said = troubles(stack.status(name))
        assert re.search(
            rf"member \d in {CLUSTER} is [A-Za-z ]+ \(create Pod {name}-m\d-0 in StatefulSet {name}-m\d failed "
            rf'error: pods "{name}-m\d-0" is forbidden: exceeded quota: {QUOTA}, requested: pods=1, '
            r"used: pods=\d+, limited: pods=0\)",
            said,
        ), said
        assert "Health" != stack.status(name).get("state")
        wait_until(
            lambda: (
                re.search(
                    rf"Warning +PodRefused .*\[{CLUSTER}\] create Pod {name}-m\d-0",
                    stack.cli("describe", "mcm", name).stdout,
                )
                is not None
            ),
            "a Warning event quoting the refusal",
        )
    status = wait_settled(stack, name)
    assert "exceeded quota" not in troubles(status)
    deleted(stack, name)
