"""A member cluster whose ResourceQuota leaves no room for a member's pod: the StatefulSet is accepted, its
controller's create of the pod is refused, and the instance's status says so in Kubernetes' words (the
``FailedCreate`` event's message). Once the quota is lifted, the controller tries again and the set becomes Health."""

from __future__ import annotations

import re
from typing import Any

from kubernetes import client

from fedstate.cli.localstack import LocalStack

from .invariants import apply, kube, wait_gone, wait_settled, wait_until

NAME = "quotaed"
CLUSTER = "member-1"
QUOTA = "no-more-pods"


def troubles(status: dict[str, Any]) -> str:
    return " ".join(str(c.get("message", "")) for c in status.get("conditions", []))


def test_a_pod_a_quota_refuses_is_quoted_in_the_status_and_created_once_the_quota_is_lifted(
    stack: LocalStack,
) -> None:
    with kube(stack, CLUSTER) as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_resource_quota("default", {"metadata": {"name": QUOTA}, "spec": {"hard": {"pods": "0"}}})
        try:
            apply(stack, NAME, "{replicaset: 3}")
            wait_until(lambda: QUOTA in troubles(stack.status(NAME)), "the status quoting the quota's refusal")
            said = troubles(stack.status(NAME))
            assert re.search(
                rf"member \d in {CLUSTER} is [A-Za-z ]+ \(create Pod {NAME}-m\d-0 in StatefulSet {NAME}-m\d failed "
                rf'error: pods "{NAME}-m\d-0" is forbidden: exceeded quota: {QUOTA}, requested: pods=1, '
                r"used: pods=\d+, limited: pods=0\)",
                said,
            ), said
            assert "Health" != stack.status(NAME).get("state")
        finally:
            core.delete_namespaced_resource_quota(QUOTA, "default")
    status = wait_settled(stack, NAME)
    assert "exceeded quota" not in troubles(status)
    stack.cli("delete", "mcm", NAME)
    wait_gone(stack, NAME)
