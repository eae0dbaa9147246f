# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""ResourceQuota, as kube-apiserver's admission plugin and the quota controller keep it: a pod or claim that does not
fit is 403 in kube's words and is not stored, one that fits is counted in ``status.used``, and what goes, finishes or
is left terminating gives its share back. A StatefulSet whose pod is refused says so in a ``FailedCreate`` event and
makes the pod once the quota allows it."""

from __future__ import annotations

from typing import Any

import pytest
from kube_support import claim, container, failed_creates, mongod_statefulset, new_namespace, pod, refusal, wait_until
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fedstate_sim.kube.controllers.base import _MAX_BACKOFF
from fedstate_sim.kube.errors import SUFFIX

NOWHERE = {"fedstate.io/test": "no-such-node"}  # a pod left unscheduled: no kubelet writes its status


def quota(hard: dict[str, str], name: str = "compute", scopes: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"hard": hard}
    if scopes:
        spec["scopes"] = scopes
    return {"metadata": {"name": name}, "spec": spec}


def asking(name: str, cpu: str, memory: str = "1Gi") -> dict[str, Any]:
    return pod(name, container(requests={"cpu": cpu, "memory": memory}))


def forbidden(call: Any, *args: Any) -> str:
    """The message of a 403 Forbidden, without the simulator's mark."""
    with pytest.raises(ApiException) as raised:
        call(*args)
    status = refusal(raised.value)
    assert (403, "Forbidden") == (raised.value.status, status["reason"])
    return str(status["message"]).removesuffix(SUFFIX)


def used(core: client.CoreV1Api, ns: str, name: str = "compute") -> dict[str, str]:
    return dict(core.read_namespaced_resource_quota(name, ns).status.used or {})


def gone(read: Any, *args: Any) -> bool:
    with pytest.raises(ApiException) as raised:
        read(*args)
    return raised.value.status == 404


def with_quota(core: client.CoreV1Api, hard: dict[str, str], **options: Any) -> str:
    ns = new_namespace(core)
    core.create_namespaced_resource_quota(ns, quota(hard, **options))
    return ns


def test_a_resource_quota_is_a_core_kind_the_client_creates_reads_changes_and_deletes(
    sim_core: client.CoreV1Api,
) -> None:
    """Discovered with its short name and status subresource; its status is kept from the start: ``hard`` as the spec
    says (canonical quantities), ``used`` measured; nothing may be limited below zero."""
    served = {r.name: r for r in sim_core.get_api_resources().resources}
    assert (["quota"], True, "ResourceQuota") == (
        served["resourcequotas"].short_names,
        served["resourcequotas"].namespaced,
        served["resourcequotas"].kind,
    )
    assert "resourcequotas/status" in served
    ns = with_quota(sim_core, {"pods": "2", "requests.memory": "2048Mi"})
    created = sim_core.read_namespaced_resource_quota("compute", ns)
    assert ({"pods": "2", "requests.memory": "2Gi"}, {"pods": "0", "requests.memory": "0"}) == (
        created.status.hard,
        created.status.used,
    )
    sim_core.patch_namespaced_resource_quota("compute", ns, {"spec": {"hard": {"pods": "3"}}})
    assert "3" == sim_core.read_namespaced_resource_quota("compute", ns).status.hard["pods"]
    assert ["compute"] == [q.metadata.name for q in sim_core.list_namespaced_resource_quota(ns).items]
    with pytest.raises(ApiException) as negative:
        sim_core.create_namespaced_resource_quota(ns, quota({"pods": "-1"}, name="below"))
    below_zero = 'spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0'
    assert (422, f'ResourceQuota "below" is invalid: {below_zero}{SUFFIX}') == (
        negative.value.status,
        refusal(negative.value)["message"],
    )
    assert "compute" == sim_core.delete_namespaced_resource_quota("compute", ns).metadata.name  # the object back
    assert [] == sim_core.list_namespaced_resource_quota(ns).items


def test_a_pod_that_fits_is_created_and_counted_in_the_quota_status(sim_core: client.CoreV1Api) -> None:
    """Counted in kube's canonical quantities: 1024Mi is 1Gi."""
    ns = with_quota(sim_core, {"pods": "2", "requests.cpu": "2", "requests.memory": "2Gi"})
    sim_core.create_namespaced_pod(ns, asking("p1", cpu="500m", memory="1024Mi"))
    assert {"pods": "1", "requests.cpu": "500m", "requests.memory": "1Gi"} == used(sim_core, ns)


def test_a_pod_over_the_quota_is_forbidden_in_kube_apiserver_words_and_not_stored(sim_core: client.CoreV1Api) -> None:
    """``exceeded quota: <quota>, requested: ..., used: ..., limited: ...`` naming only what is exceeded, sorted."""
    ns = with_quota(sim_core, {"pods": "3", "requests.cpu": "2", "requests.memory": "2Gi"})
    sim_core.create_namespaced_pod(ns, asking("p1", cpu="1"))
    assert (
        'pods "p2" is forbidden: exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=1, '
        "limited: requests.cpu=2"
    ) == forbidden(sim_core.create_namespaced_pod, ns, asking("p2", cpu="2"))
    assert (
        'pods "p3" is forbidden: exceeded quota: compute, requested: requests.cpu=1500m,requests.memory=2Gi, '
        "used: requests.cpu=1,requests.memory=1Gi, limited: requests.cpu=2,requests.memory=2Gi"
    ) == forbidden(sim_core.create_namespaced_pod, ns, asking("p3", cpu="1.5", memory="2Gi"))
    assert gone(sim_core.read_namespaced_pod, "p2", ns) and gone(sim_core.read_namespaced_pod, "p3", ns)
    assert {"pods": "1", "requests.cpu": "1", "requests.memory": "1Gi"} == used(sim_core, ns)


def test_a_pod_kube_apiserver_finds_invalid_is_refused_for_that_before_any_quota_is_asked(
    sim_core: client.CoreV1Api,
) -> None:
    """Validation (422) comes before the validating admission plugins (403)."""
    ns = with_quota(sim_core, {"pods": "0"})
    with pytest.raises(ApiException) as invalid:
        sim_core.create_namespaced_pod(ns, pod("p", container(requests={"cpu": "2"}, limits={"cpu": "1"})))
    assert 422 == invalid.value.status


def test_a_quota_whose_usage_is_unknown_refuses_what_it_tracks(sim_core: client.CoreV1Api) -> None:
    ns = with_quota(sim_core, {"pods": "5"})
    sim_core.patch_namespaced_resource_quota_status("compute", ns, {"status": {"used": None}})
    assert 'pods "p" is forbidden: status unknown for quota: compute, resources: pods' == forbidden(
        sim_core.create_namespaced_pod, ns, pod("p")
    )


def test_a_deleted_pod_gives_its_share_back(sim_core: client.CoreV1Api) -> None:
    ns = with_quota(sim_core, {"pods": "1"})
    sim_core.create_namespaced_pod(ns, pod("first"))
    assert "exceeded quota: compute, requested: pods=1, used: pods=1, limited: pods=1" in forbidden(
        sim_core.create_namespaced_pod, ns, pod("second")
    )
    sim_core.delete_namespaced_pod("first", ns)
    wait_until(lambda: used(sim_core, ns)["pods"] == "0")
    sim_core.create_namespaced_pod(ns, pod("second"))
    assert "1" == used(sim_core, ns)["pods"]


def test_a_finished_pod_or_one_left_terminating_stops_counting_but_stays_an_object(sim_core: client.CoreV1Api) -> None:
    """``pods`` counts live pods: not a Succeeded one, nor one still there after its deletion's grace period (here
    held by a finalizer); ``count/pods`` counts every pod stored."""
    ns = with_quota(sim_core, {"pods": "2", "count/pods": "5"})
    sim_core.create_namespaced_pod(ns, pod("done", nodeSelector=NOWHERE))
    held = pod("held", nodeSelector=NOWHERE)
    held["metadata"]["finalizers"] = ["fedstate.io/test-hold"]
    sim_core.create_namespaced_pod(ns, held)
    assert {"pods": "2", "count/pods": "2"} == used(sim_core, ns)
    sim_core.patch_namespaced_pod_status("done", ns, {"status": {"phase": "Succeeded"}})
    wait_until(lambda: used(sim_core, ns)["pods"] == "1")
    sim_core.delete_namespaced_pod("held", ns, grace_period_seconds=0)
    wait_until(lambda: used(sim_core, ns)["pods"] == "0")
    assert "2" == used(sim_core, ns)["count/pods"]
    sim_core.create_namespaced_pod(ns, pod("next"))


def test_a_pod_must_say_the_cpu_and_memory_a_quota_tracks(sim_core: client.CoreV1Api) -> None:
    """``failed quota: <quota>: must specify <resource> for: <containers>; ...``; limits alone do, as kube makes them
    the requests too."""
    ns = with_quota(sim_core, {"requests.cpu": "4", "limits.memory": "4Gi"})
    unsaid = pod("p", container("a", requests={"cpu": "1"}), container("b"))
    assert 'pods "p" is forbidden: failed quota: compute: must specify limits.memory for: a,b; requests.cpu for: b' == (
        forbidden(sim_core.create_namespaced_pod, ns, unsaid)
    )
    assert gone(sim_core.read_namespaced_pod, "p", ns)
    sim_core.create_namespaced_pod(ns, pod("p", container(limits={"cpu": "1", "memory": "1Gi"})))
    assert {"requests.cpu": "1", "limits.memory": "1Gi"} == used(sim_core, ns)


def test_init_containers_count_as_kube_counts_them(sim_core: client.CoreV1Api) -> None:
    """An init container runs alone (beside the sidecars started before it): the pod needs the most any moment does;
    a sidecar (``restartPolicy: Always``) runs on beside the containers."""
    ns = with_quota(sim_core, {"requests.cpu": "10"})
    init = [
        {**container("sidecar", requests={"cpu": "1"}), "restartPolicy": "Always"},
        container("migrate", requests={"cpu": "3"}),
    ]
    sim_core.create_namespaced_pod(ns, pod("p", container(requests={"cpu": "2"}), initContainers=init))
    assert {"requests.cpu": "4"} == used(sim_core, ns)  # max(2 + 1, 1 + 3)


def test_a_quota_with_a_scope_counts_only_the_pods_in_it(sim_core: client.CoreV1Api) -> None:
    ns = with_quota(sim_core, {"pods": "1"}, scopes=["BestEffort"])
    sim_core.create_namespaced_pod(ns, asking("sized", cpu="1"))
    sim_core.create_namespaced_pod(ns, pod("best-effort"))
    assert {"pods": "1"} == used(sim_core, ns)
    assert "exceeded quota: compute" in forbidden(sim_core.create_namespaced_pod, ns, pod("another"))
    sim_core.create_namespaced_pod(ns, asking("sized-too", cpu="1"))


def test_a_claim_over_the_storage_quota_is_forbidden_and_not_stored(sim_core: client.CoreV1Api) -> None:
    ns = with_quota(sim_core, {"requests.storage": "3Gi", "persistentvolumeclaims": "5"}, name="storage")
    sim_core.create_namespaced_persistent_volume_claim(ns, claim("a", "2Gi"))
    assert (
        'persistentvolumeclaims "b" is forbidden: exceeded quota: storage, requested: requests.storage=2Gi, '
        "used: requests.storage=2Gi, limited: requests.storage=3Gi"
    ) == forbidden(sim_core.create_namespaced_persistent_volume_claim, ns, claim("b", "2Gi"))
    assert gone(sim_core.read_namespaced_persistent_volume_claim, "b", ns)
    assert {"persistentvolumeclaims": "1", "requests.storage": "2Gi"} == used(sim_core, ns, "storage")


def test_a_claim_grows_only_as_far_as_the_quota_of_its_class_allows(sim_core: client.CoreV1Api) -> None:
    """A quota created over existing claims counts them; growing is charged what it adds."""
    ns = new_namespace(sim_core)
    sim_core.create_namespaced_persistent_volume_claim(ns, claim("data", "1Gi", storage_class="standard"))
    wait_until(lambda: sim_core.read_namespaced_persistent_volume_claim("data", ns).status.phase == "Bound")
    per_class = "standard.storageclass.storage.k8s.io/requests.storage"
    sim_core.create_namespaced_resource_quota(ns, quota({per_class: "2Gi"}, name="storage"))
    assert {per_class: "1Gi"} == used(sim_core, ns, "storage")
    grow = {"spec": {"resources": {"requests": {"storage": "3Gi"}}}}
    assert (
        f"exceeded quota: storage, requested: {per_class}=2Gi, used: {per_class}=1Gi, limited: {per_class}=2Gi"
        in forbidden(sim_core.patch_namespaced_persistent_volume_claim, "data", ns, grow)
    )
    sim_core.patch_namespaced_persistent_volume_claim(
        "data", ns, {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    )
    assert {per_class: "2Gi"} == used(sim_core, ns, "storage")


def test_a_statefulset_pod_the_quota_refuses_is_told_as_failed_create_and_made_once_the_quota_allows(
    sim_api: client.ApiClient,
) -> None:
    """kube's ``recordPodEvent``: a Warning ``FailedCreate`` on the StatefulSet quoting the API server; the
    controller tries again, backing off, so the pod comes once the quota is raised."""
    core, apps = client.CoreV1Api(sim_api), client.AppsV1Api(sim_api)
    ns = with_quota(core, {"pods": "0"})
    apps.create_namespaced_stateful_set(ns, mongod_statefulset("rs"))

    assert [
        'create Pod rs-0 in StatefulSet rs failed error: pods "rs-0" is forbidden: exceeded quota: compute, '
        "requested: pods=1, used: pods=0, limited: pods=0"
    ] == wait_until(lambda: failed_creates(core, ns))
    assert [] == core.list_namespaced_pod(ns).items
    core.patch_namespaced_resource_quota("compute", ns, {"spec": {"hard": {"pods": "1"}}})
    wait_until(lambda: core.list_namespaced_pod(ns).items, timeout=_MAX_BACKOFF + 5)
    assert {"pods": "1"} == used(core, ns)
