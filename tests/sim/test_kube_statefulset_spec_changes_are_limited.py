# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""A StatefulSet's spec changes only in replicas, template, update strategy, retention policy, ordinals and minReadySeconds."""

from __future__ import annotations

from typing import Any

import pytest
from kube_support import mongod_statefulset, new_namespace, refusal, refused_fields
from kubernetes import client
from kubernetes.client.exceptions import ApiException

CLAIM = {
    "metadata": {"name": "data"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}},
}


@pytest.mark.parametrize(
    "patch",
    [
        {"spec": {"serviceName": "other"}},
        {"spec": {"podManagementPolicy": "Parallel"}},
        {"spec": {"volumeClaimTemplates": [CLAIM]}},
        {"spec": {"selector": {"matchLabels": {"app": "db", "more": "x"}}}},
    ],
)
def test_other_spec_changes_are_refused(sim_api: client.ApiClient, patch: dict[str, Any]) -> None:
    """422 ``spec: Forbidden: updates to statefulset spec for fields other than ...`` (what an agent's
    re-render must never change in place)."""
    apps = client.AppsV1Api(sim_api)
    ns = new_namespace(client.CoreV1Api(sim_api))
    apps.create_namespaced_stateful_set(ns, mongod_statefulset("db", replicas=0))
    with pytest.raises(ApiException) as refused:
        apps.patch_namespaced_stateful_set("db", ns, patch)
    assert (422, ["spec"]) == (refused.value.status, refused_fields(refused.value))
    assert (
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template'"
        in (refusal(refused.value)["message"])
    )


def test_replicas_template_and_strategy_may_change(sim_api: client.ApiClient) -> None:
    """The mutable fields change and bump the generation."""
    apps = client.AppsV1Api(sim_api)
    ns = new_namespace(client.CoreV1Api(sim_api))
    apps.create_namespaced_stateful_set(ns, mongod_statefulset("db", replicas=0))
    patch = {
        "spec": {
            "replicas": 0,
            "minReadySeconds": 5,
            "updateStrategy": {"type": "OnDelete"},
            "template": {"metadata": {"annotations": {"x": "y"}}},
        }
    }
    assert 2 == apps.patch_namespaced_stateful_set("db", ns, patch).metadata.generation
