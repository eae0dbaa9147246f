# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""A claim deleted while a pod mounts it stays (Terminating, finalizer ``kubernetes.io/pvc-protection``) until no
pod does, as kube-apiserver's StorageObjectInUseProtection and the pvc-protection controller keep it: the volume,
a member's data, is not pulled from under a running mongod. A new pod naming the claim meanwhile is not scheduled."""

from __future__ import annotations

from kube_support import new_namespace, wait_until
from kubernetes import client
from kubernetes.client.exceptions import ApiException


def pod_mounting(name: str, claim: str) -> dict[str, object]:
    return {
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }


def gone(core: client.CoreV1Api, name: str, ns: str) -> bool:
    try:
        core.read_namespaced_persistent_volume_claim(name, ns)
    except ApiException as exc:
        return exc.status == 404
    return False


def test_a_claim_in_use_is_removed_only_once_its_pod_is_gone(sim_api: client.ApiClient) -> None:
    core = client.CoreV1Api(sim_api)
    ns = new_namespace(core)
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    created = core.create_namespaced_persistent_volume_claim(ns, {"metadata": {"name": "data"}, "spec": spec})
    assert ["kubernetes.io/pvc-protection"] == created.metadata.finalizers
    core.create_namespaced_pod(ns, pod_mounting("user", "data"))
    wait_until(lambda: core.read_namespaced_pod("user", ns).status.phase == "Running")

    core.delete_namespaced_persistent_volume_claim("data", ns)
    terminating = core.read_namespaced_persistent_volume_claim("data", ns)
    assert terminating.metadata.deletion_timestamp is not None
    assert ["kubernetes.io/pvc-protection"] == terminating.metadata.finalizers

    core.create_namespaced_pod(ns, pod_mounting("latecomer", "data"))
    unschedulable = wait_until(
        lambda: next(
            (c for c in core.read_namespaced_pod("latecomer", ns).status.conditions or [] if c.type == "PodScheduled"),
            None,
        )
    )
    assert "False" == unschedulable.status
    assert 'persistentvolumeclaim "data" is being deleted' in unschedulable.message

    core.delete_namespaced_pod("latecomer", ns)
    assert not gone(core, "data", ns), "the running pod still mounts it"
    core.delete_namespaced_pod("user", ns)
    wait_until(lambda: gone(core, "data", ns))


def test_a_claim_no_pod_uses_goes_at_once(sim_api: client.ApiClient) -> None:
    core = client.CoreV1Api(sim_api)
    ns = new_namespace(core)
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    core.create_namespaced_persistent_volume_claim(ns, {"metadata": {"name": "data"}, "spec": spec})
    core.delete_namespaced_persistent_volume_claim("data", ns)
    wait_until(lambda: gone(core, "data", ns))
