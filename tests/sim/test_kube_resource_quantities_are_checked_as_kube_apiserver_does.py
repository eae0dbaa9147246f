# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""Quantities kube-apiserver refuses: a container's request above its limit or below zero (a Pod's, a StatefulSet's
template), a claim asking for no storage. A StatefulSet's claim templates are not checked as it is written: the
controller's claim is refused, and the pod waits (``FailedCreate``)."""

from __future__ import annotations

from typing import Any

import pytest
from kube_support import mongod_statefulset, new_namespace, refusal, refused_fields, wait_until
from kubernetes import client
from kubernetes.client.exceptions import ApiException


def pod(resources: dict[str, Any]) -> dict[str, Any]:
    container = {"name": "mongod", "image": "mongo:6.0", "resources": resources}
    return {"metadata": {"name": "p"}, "spec": {"containers": [container]}}


def claim(requests: dict[str, str]) -> dict[str, Any]:
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": requests}}
    return {"metadata": {"name": "data"}, "spec": spec}


def refused(call: Any, *args: Any) -> ApiException:
    with pytest.raises(ApiException) as raised:
        call(*args)
    return raised.value


def test_a_request_above_its_limit_is_refused_with_the_limit_named(sim_core: client.CoreV1Api) -> None:
    ns = new_namespace(sim_core)
    resources = {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "3", "memory": "512Mi"}}
    exc = refused(sim_core.create_namespaced_pod, ns, pod(resources))
    assert (422, ["spec.containers[0].resources.requests"]) == (exc.status, refused_fields(exc))
    assert (
        'spec.containers[0].resources.requests: Invalid value: "3": must be less than or equal to cpu limit of 1'
        in refusal(exc)["message"]
    )
    fits = {"limits": {"cpu": "1"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}  # equal; no memory limit
    sim_core.create_namespaced_pod(ns, pod(fits))


def test_a_negative_quantity_is_refused_wherever_it_is(sim_core: client.CoreV1Api) -> None:
    ns = new_namespace(sim_core)
    exc = refused(sim_core.create_namespaced_pod, ns, pod({"limits": {"memory": "-1Gi"}, "requests": {"cpu": "-1"}}))
    assert ["spec.containers[0].resources.limits[memory]", "spec.containers[0].resources.requests[cpu]"] == sorted(
        refused_fields(exc)
    )
    assert "must be greater than or equal to 0" in refusal(exc)["message"]


def test_a_statefulset_template_is_checked_as_a_pod_is_on_create_and_on_update(sim_api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(sim_api), client.AppsV1Api(sim_api)
    ns = new_namespace(core)
    greedy = mongod_statefulset("rs", cpu="3")
    greedy["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = {"cpu": "2"}
    exc = refused(apps.create_namespaced_stateful_set, ns, greedy)
    assert (422, ["spec.template.spec.containers[0].resources.requests"]) == (exc.status, refused_fields(exc))
    apps.create_namespaced_stateful_set(ns, mongod_statefulset("rs", cpu="1"))
    exc = refused(apps.patch_namespaced_stateful_set, "rs", ns, {"spec": greedy["spec"]})
    assert (422, ["spec.template.spec.containers[0].resources.requests"]) == (exc.status, refused_fields(exc))


@pytest.mark.parametrize(
    ("requests", "cause"),
    [({}, "Required value"), ({"storage": "0"}, 'Invalid value: "0": must be greater than zero')],
)
def test_a_claim_asks_for_some_storage(sim_core: client.CoreV1Api, requests: dict[str, str], cause: str) -> None:
    ns = new_namespace(sim_core)
    exc = refused(sim_core.create_namespaced_persistent_volume_claim, ns, claim(requests))
    assert (422, ["spec.resources[storage]"]) == (exc.status, refused_fields(exc))
    assert f"spec.resources[storage]: {cause}" in refusal(exc)["message"]


def test_a_claim_template_asking_for_no_storage_leaves_the_pod_uncreated_with_a_warning(
    sim_api: client.ApiClient,
) -> None:
    core, apps = client.CoreV1Api(sim_api), client.AppsV1Api(sim_api)
    ns = new_namespace(core)
    sts = mongod_statefulset("rs")
    sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "-1Gi"
    apps.create_namespaced_stateful_set(ns, sts)

    def failed() -> list[str]:
        events = core.list_namespaced_event(ns).items
        return [e.message for e in events if (e.type, e.reason) == ("Warning", "FailedCreate")]

    told = wait_until(failed)
    assert told[0].startswith("create Claim data-rs-0 for Pod rs-0 in StatefulSet rs failed error: ")
    assert 'spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero' in told[0]
    assert [] == core.list_namespaced_pod(ns).items
    assert [] == core.list_namespaced_persistent_volume_claim(ns).items
