# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""A Pod's spec changes only where ``ValidatePodUpdate`` allows: images, a lower deadline, added tolerations."""

from __future__ import annotations

from typing import Any

import pytest
from kube_support import new_namespace, refusal, refused_fields, wait_until
from kubernetes import client
from kubernetes.client.exceptions import ApiException

FORBIDDEN_SPEC = "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"


@pytest.fixture
def core(sim_core: client.CoreV1Api) -> client.CoreV1Api:
    return sim_core


@pytest.fixture
def pod(core: client.CoreV1Api) -> tuple[str, str]:
    """A scheduled Pod: (namespace, name)."""
    ns = new_namespace(core)
    body = {
        "metadata": {"name": "p", "labels": {"app": "db"}},
        "spec": {
            "containers": [{"name": "c", "image": "busybox:1", "resources": {"requests": {"cpu": "100m"}}}],
            "tolerations": [{"key": "a", "operator": "Exists"}],
        },
    }
    core.create_namespaced_pod(ns, body)
    wait_until(lambda: core.read_namespaced_pod("p", ns).spec.node_name)
    return ns, "p"


def refused(core: client.CoreV1Api, pod: tuple[str, str], patch: dict[str, Any]) -> ApiException:
    ns, name = pod
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod(name, ns, patch)
    assert (422, "Invalid") == (caught.value.status, refusal(caught.value)["reason"])
    return caught.value


def test_images_deadlines_tolerations_and_metadata_may_change(core: client.CoreV1Api, pod: tuple[str, str]) -> None:
    """The fields Kubernetes lets a Pod update change, change; a replace of what was read is a no-op."""
    ns, name = pod
    core.patch_namespaced_pod(name, ns, {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}})
    core.patch_namespaced_pod(name, ns, {"spec": {"activeDeadlineSeconds": 100}})
    core.patch_namespaced_pod(name, ns, {"spec": {"activeDeadlineSeconds": 50}})
    added = [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists", "effect": "NoSchedule"}]
    core.patch_namespaced_pod(name, ns, {"spec": {"tolerations": added}, "metadata": {"labels": {"more": "x"}}})
    current = core.read_namespaced_pod(name, ns)
    assert ("busybox:2", 50, 2) == (
        current.spec.containers[0].image,
        current.spec.active_deadline_seconds,
        len(current.spec.tolerations),
    )
    replaced = core.replace_namespaced_pod(name, ns, current)
    assert current.metadata.resource_version == replaced.metadata.resource_version


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "2"}}}]}}, "spec", FORBIDDEN_SPEC),
        ({"spec": {"containers": [{"name": "c", "env": [{"name": "K", "value": "v"}]}]}}, "spec", FORBIDDEN_SPEC),
        ({"spec": {"nodeName": "elsewhere"}}, "spec", FORBIDDEN_SPEC),
        ({"spec": {"restartPolicy": "Never"}}, "spec", FORBIDDEN_SPEC),
        (
            {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}},
            "spec.containers",
            "spec.containers: Forbidden: pod updates may not add or remove containers",
        ),
        (
            {"spec": {"tolerations": [{"key": "other", "operator": "Exists"}]}},
            "spec.tolerations",
            "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
        ),
        (
            {"spec": {"containers": [{"name": "c", "image": ""}]}},
            "spec.containers[0].image",
            "spec.containers[0].image: Required value",
        ),
    ],
)
def test_any_other_spec_change_is_refused(
    core: client.CoreV1Api, pod: tuple[str, str], patch: dict[str, Any], field: str, words: str
) -> None:
    """422 with the field and Kubernetes' words; the Pod is unchanged."""
    before = core.read_namespaced_pod(*reversed(pod))
    caught = refused(core, pod, patch)
    assert [field] == refused_fields(caught)
    assert words in refusal(caught)["message"]
    assert before.metadata.resource_version == core.read_namespaced_pod(*reversed(pod)).metadata.resource_version


def test_a_deadline_may_only_come_down(core: client.CoreV1Api, pod: tuple[str, str]) -> None:
    """``activeDeadlineSeconds``: set once, then lowered; raised or removed is refused."""
    ns, name = pod
    core.patch_namespaced_pod(name, ns, {"spec": {"activeDeadlineSeconds": 60}})
    raised = refused(core, pod, {"spec": {"activeDeadlineSeconds": 61}})
    assert (
        "spec.activeDeadlineSeconds: Invalid value: 61: must be less than or equal to previous value"
        in (refusal(raised)["message"])
    )
    removed = refused(core, pod, {"spec": {"activeDeadlineSeconds": None}})
    assert ["spec.activeDeadlineSeconds"] == refused_fields(removed)
