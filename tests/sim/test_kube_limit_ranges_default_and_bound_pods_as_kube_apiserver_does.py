# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""LimitRange, as kube-apiserver defaults and validates it and as its LimitRanger admission plugin applies it: a
container's unset requests and limits are filled from the namespace's defaults (and the pod says so), a pod or claim
out of bounds is 403 in kube's words and is not stored, and a ResourceQuota counts the defaults — so a pod that only
lacks what a LimitRange defaults passes the quota's "must specify" rule."""

from __future__ import annotations

from typing import Any

import pytest
from kube_support import claim, container, failed_creates, mongod_statefulset, new_namespace, pod, refusal, wait_until
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fedstate_sim.kube.errors import SUFFIX


def limits(*items: dict[str, Any], name: str = "bounds") -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"limits": list(items)}}


def refused(code: int, call: Any, *args: Any) -> str:
    """The message of a refusal with ``code``, without the simulator's mark."""
    with pytest.raises(ApiException) as raised:
        call(*args)
    assert code == raised.value.status
    return str(refusal(raised.value)["message"]).removesuffix(SUFFIX)


def with_limits(core: client.CoreV1Api, *items: dict[str, Any]) -> str:
    ns = new_namespace(core)
    core.create_namespaced_limit_range(ns, limits(*items))
    return ns


def resources_of(core: client.CoreV1Api, ns: str, name: str, field: str = "containers") -> dict[str, Any]:
    """Each container's requests and limits as stored."""
    stored = core.read_namespaced_pod(name, ns).spec
    return {c.name: (c.resources.requests, c.resources.limits) for c in getattr(stored, field)}


def gone(core: client.CoreV1Api, ns: str, *pods: str) -> bool:
    return not {p.metadata.name for p in core.list_namespaced_pod(ns).items} & set(pods)


def test_a_limit_range_is_a_core_kind_defaulted_as_kube_defaults_it(sim_core: client.CoreV1Api) -> None:
    """Discovered as ``limits``, no status. A Container item's ``default`` comes from ``max``, its ``defaultRequest``
    from ``default``, then from ``min``, where unset; quantities come back canonical. DELETE answers a Status."""
    served = {r.name: r for r in sim_core.get_api_resources().resources}
    assert (["limits"], True, "LimitRange") == (
        served["limitranges"].short_names,
        served["limitranges"].namespaced,
        served["limitranges"].kind,
    )
    assert "limitranges/status" not in served
    item = {
        "type": "Container",
        "max": {"cpu": "2", "memory": "1024Mi"},
        "default": {"cpu": "1"},
        "min": {"ephemeral-storage": "1Gi"},
    }
    ns = with_limits(sim_core, item)
    stored = sim_core.read_namespaced_limit_range("bounds", ns).spec.limits[0]
    assert (
        {"cpu": "1", "memory": "1Gi"},  # memory from max
        {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"},  # from default, then from min
        {"cpu": "2", "memory": "1Gi"},
    ) == (stored.default, stored.default_request, stored.max)
    sim_core.patch_namespaced_limit_range("bounds", ns, {"spec": {"limits": [{"type": "Pod", "max": {"cpu": "4"}}]}})
    patched = sim_core.list_namespaced_limit_range(ns).items[0].spec.limits[0]
    assert ("Pod", {"cpu": "4"}, None, None) == (patched.type, patched.max, patched.default, patched.default_request)
    deleted = sim_core.delete_namespaced_limit_range("bounds", ns)
    assert ("Status", "bounds") == (deleted["kind"], deleted["details"]["name"])
    assert [] == sim_core.list_namespaced_limit_range(ns).items


def test_a_limit_range_out_of_order_is_invalid_in_kube_apiserver_words_and_not_stored(
    sim_core: client.CoreV1Api,
) -> None:
    """``min <= defaultRequest <= default <= max``, checked once defaulted: a default above the max also makes the
    request defaulted from it too high (kube shows the max as the value of ``default``). A type must be one kube
    knows; a ratio at least 1."""
    ns = new_namespace(sim_core)
    above = limits({"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "2"}}, name="above")
    assert (
        'LimitRange "above" is invalid: ['
        'spec.limits[0].defaultRequest[cpu]: Invalid value: "2": default request value 2 is greater than max value 1, '
        'spec.limits[0].default[cpu]: Invalid value: "1": default value 2 is greater than max value 1]'
    ) == refused(422, sim_core.create_namespaced_limit_range, ns, above)
    odd = limits({"type": "Node", "maxLimitRequestRatio": {"cpu": "0.5"}}, name="odd")
    assert (
        'LimitRange "odd" is invalid: ['
        'spec.limits[0].type: Invalid value: "Node": must be a standard limit type or fully qualified, '
        'spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: "500m": ratio 500m is less than 1]'
    ) == refused(422, sim_core.create_namespaced_limit_range, ns, odd)
    assert [] == sim_core.list_namespaced_limit_range(ns).items


def test_defaults_fill_what_each_container_does_not_set_and_the_pod_says_so(sim_core: client.CoreV1Api) -> None:
    """Containers and init containers alike; what a container sets is kept, and a limit it sets is its request
    already (kube copies limits into absent requests as it decodes a pod), so no default request is added there."""
    ns = with_limits(
        sim_core,
        {
            "type": "Container",
            "default": {"cpu": "500m", "memory": "512Mi"},
            "defaultRequest": {"cpu": "250m", "memory": "256Mi"},
        },
    )
    sized = container("agent", requests={"cpu": "100m", "memory": "64Mi"}, limits={"cpu": "200m"})
    capped = container("exporter", limits={"cpu": "1", "memory": "1Gi"})
    sim_core.create_namespaced_pod(ns, pod("p", container(), sized, capped, initContainers=[container("init")]))
    defaulted = ({"cpu": "250m", "memory": "256Mi"}, {"cpu": "500m", "memory": "512Mi"})
    assert {
        "mongod": defaulted,
        "agent": ({"cpu": "100m", "memory": "64Mi"}, {"cpu": "200m", "memory": "512Mi"}),
        "exporter": (None, {"cpu": "1", "memory": "1Gi"}),
    } == resources_of(sim_core, ns, "p")
    assert {"init": defaulted} == resources_of(sim_core, ns, "p", "init_containers")
    assert (
        "LimitRanger plugin set: cpu, memory request for container mongod; cpu, memory limit for container mongod; "
        "memory limit for container agent; cpu, memory request for init container init; "
        "cpu, memory limit for init container init"
    ) == sim_core.read_namespaced_pod("p", ns).metadata.annotations["kubernetes.io/limit-ranger"]


def test_a_default_is_applied_before_the_pod_is_validated(sim_core: client.CoreV1Api) -> None:
    """LimitRanger mutates before validation: a default limit below the request a container sets is kube's 422."""
    ns = with_limits(sim_core, {"type": "Container", "default": {"cpu": "1"}})
    assert 'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit' in (
        refused(422, sim_core.create_namespaced_pod, ns, pod("p", container(requests={"cpu": "2"})))
    )
    assert gone(sim_core, ns, "p")


def test_a_pod_over_a_maximum_is_forbidden_in_kube_apiserver_words_and_not_stored(
    sim_core: client.CoreV1Api,
) -> None:
    """Per Container, and per Pod (containers summed). Every violation of the LimitRange is named, each once."""
    ns = with_limits(sim_core, {"type": "Container", "max": {"cpu": "1"}}, {"type": "Pod", "max": {"memory": "1Gi"}})
    too_much_cpu = pod("p", container(limits={"cpu": "2", "memory": "512Mi"}))
    assert 'pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 2' == refused(
        403, sim_core.create_namespaced_pod, ns, too_much_cpu
    )
    halves = [container(name, limits={"cpu": "500m", "memory": "768Mi"}) for name in ("a", "b")]
    assert 'pods "q" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1536Mi' == refused(
        403, sim_core.create_namespaced_pod, ns, pod("q", *halves)
    )
    both = [container(name, limits={"cpu": "2", "memory": "768Mi"}) for name in ("a", "b")]
    assert (
        'pods "r" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, '
        "maximum memory usage per Pod is 1Gi, but limit is 1536Mi]"
    ) == refused(403, sim_core.create_namespaced_pod, ns, pod("r", *both))
    assert gone(sim_core, ns, "p", "q", "r")
    sim_core.create_namespaced_pod(ns, pod("fits", container(limits={"cpu": "1", "memory": "1Gi"})))


def test_a_claim_under_the_minimum_storage_is_forbidden_and_not_stored(sim_core: client.CoreV1Api) -> None:
    ns = with_limits(sim_core, {"type": "PersistentVolumeClaim", "min": {"storage": "2Gi"}, "max": {"storage": "8Gi"}})
    assert (
        'persistentvolumeclaims "small" is forbidden: minimum storage usage per PersistentVolumeClaim is 2Gi, '
        "but request is 1Gi"
    ) == refused(403, sim_core.create_namespaced_persistent_volume_claim, ns, claim("small", "1Gi"))
    assert [] == sim_core.list_namespaced_persistent_volume_claim(ns).items
    sim_core.create_namespaced_persistent_volume_claim(ns, claim("data", "2Gi"))


def test_defaults_satisfy_a_quota_that_must_be_told_cpu_and_are_charged_to_it(sim_core: client.CoreV1Api) -> None:
    """The quota sees the pod as LimitRanger left it: the defaults are what it charges; without them, 403."""
    ns = new_namespace(sim_core)
    sim_core.create_namespaced_resource_quota(
        ns, {"metadata": {"name": "compute"}, "spec": {"hard": {"requests.cpu": "2", "limits.cpu": "4"}}}
    )
    item = {"type": "Container", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "500m"}}
    sim_core.create_namespaced_limit_range(ns, limits(item))
    sim_core.create_namespaced_pod(ns, pod("p"))
    used = sim_core.read_namespaced_resource_quota("compute", ns).status.used
    assert {"requests.cpu": "500m", "limits.cpu": "1"} == used
    sim_core.delete_namespaced_limit_range("bounds", ns)
    unsaid = "failed quota: compute: must specify limits.cpu for: mongod; requests.cpu for: mongod"
    assert f'pods "q" is forbidden: {unsaid}' == refused(403, sim_core.create_namespaced_pod, ns, pod("q"))


def test_a_pod_out_of_bounds_is_refused_by_the_limit_range_before_any_quota_is_asked(
    sim_core: client.CoreV1Api,
) -> None:
    """kube runs LimitRanger before ResourceQuota: its refusal is the one told."""
    ns = with_limits(sim_core, {"type": "Container", "max": {"cpu": "1"}})
    sim_core.create_namespaced_resource_quota(ns, {"metadata": {"name": "none"}, "spec": {"hard": {"pods": "0"}}})
    assert 'pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 2' == refused(
        403, sim_core.create_namespaced_pod, ns, pod("p", container(limits={"cpu": "2"}))
    )


def test_a_statefulset_pod_out_of_bounds_is_told_as_failed_create(sim_api: client.ApiClient) -> None:
    """The StatefulSet controller's pod goes through LimitRanger too; its refusal is a Warning ``FailedCreate``."""
    core, apps = client.CoreV1Api(sim_api), client.AppsV1Api(sim_api)
    ns = with_limits(core, {"type": "Container", "min": {"memory": "2Gi"}})
    apps.create_namespaced_stateful_set(ns, mongod_statefulset("rs"))

    assert [
        'create Pod rs-0 in StatefulSet rs failed error: pods "rs-0" is forbidden: minimum memory usage per Container '
        "is 2Gi, but request is 1Gi"
    ] == wait_until(lambda: failed_creates(core, ns))
    assert [] == core.list_namespaced_pod(ns).items
