# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""``ValidateTolerations`` on a Pod and on a StatefulSet's template: the operator is Equal or Exists, an empty key
only with Exists, no value with Exists, an effect kube knows, ``tolerationSeconds`` only with NoExecute."""

from __future__ import annotations

from typing import Any

import pytest
from kube_support import mongod_statefulset, new_namespace, refusal, refused_fields
from kubernetes import client
from kubernetes.client.exceptions import ApiException


def pod(tolerations: list[dict[str, Any]]) -> dict[str, Any]:
    container = {"name": "mongod", "image": "mongo:6.0"}
    return {"metadata": {"name": "p"}, "spec": {"containers": [container], "tolerations": tolerations}}


@pytest.mark.parametrize(
    ("toleration", "field", "words"),
    [
        (
            {"key": "k", "operator": "Exist"},
            "operator",
            'Unsupported value: "Exist": supported values: "Equal", "Exists"',
        ),
        ({"operator": "Equal", "value": "v"}, "operator", "operator must be Exists when `key` is empty"),
        (
            {"key": "k", "operator": "Exists", "value": "v"},
            "operator",
            "value must be empty when `operator` is 'Exists'",
        ),
        ({"key": "k", "value": "a b"}, "operator", 'Invalid value: "a b"'),
        ({"key": "k", "effect": "NoRun"}, "effect", 'Unsupported value: "NoRun"'),
        ({"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}, "effect", "effect must be 'NoExecute' when"),
        ({"key": "a/b/c", "operator": "Exists"}, "key", 'Invalid value: "a/b/c"'),
    ],
)
def test_a_toleration_kube_apiserver_refuses_is_422_naming_its_field(
    sim_core: client.CoreV1Api, toleration: dict[str, Any], field: str, words: str
) -> None:
    ns = new_namespace(sim_core)
    with pytest.raises(ApiException) as refused:
        sim_core.create_namespaced_pod(ns, pod([toleration]))
    assert (422, [f"spec.tolerations[0].{field}"]) == (refused.value.status, refused_fields(refused.value))
    assert words in refusal(refused.value)["message"]


def test_tolerations_kube_takes_are_taken_and_a_template_is_checked_alike(sim_api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(sim_api), client.AppsV1Api(sim_api)
    ns = new_namespace(core)
    fine = [
        {"operator": "Exists"},
        {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
    ]
    core.create_namespaced_pod(ns, pod(fine))
    sts = mongod_statefulset("rs")
    sts["spec"]["template"]["spec"]["tolerations"] = [{"key": "k", "operator": "Exist"}]
    with pytest.raises(ApiException) as refused:
        apps.create_namespaced_stateful_set(ns, sts)
    assert ["spec.template.spec.tolerations[0].operator"] == refused_fields(refused.value)
