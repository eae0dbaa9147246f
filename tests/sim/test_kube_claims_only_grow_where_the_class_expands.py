# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""A PersistentVolumeClaim's spec is fixed, but a Bound claim's storage request grows where its class allows expansion."""

from __future__ import annotations

from typing import Any

import pytest
from kube_support import new_namespace, refusal, refused_fields, wait_until
from kubernetes import client
from kubernetes.client.exceptions import ApiException


@pytest.fixture(scope="module")
def core(sim_api: client.ApiClient) -> client.CoreV1Api:
    """The cluster has a class without expansion too."""
    client.StorageV1Api(sim_api).create_storage_class(
        {"metadata": {"name": "fixed"}, "provisioner": "sim.fedstate.io/csi", "allowVolumeExpansion": False}
    )
    return client.CoreV1Api(sim_api)


def claim(core: client.CoreV1Api, storage_class: str, bound: bool = True) -> tuple[str, str]:
    ns = new_namespace(core)
    spec = {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": storage_class,
        "resources": {"requests": {"storage": "1Gi"}},
    }
    core.create_namespaced_persistent_volume_claim(ns, {"metadata": {"name": "data"}, "spec": spec})
    if bound:
        wait_until(lambda: core.read_namespaced_persistent_volume_claim("data", ns).status.phase == "Bound")
    return ns, "data"


def storage(size: str) -> dict[str, Any]:
    return {"spec": {"resources": {"requests": {"storage": size}}}}


def test_a_bound_claim_grows_and_reports_its_new_capacity(core: client.CoreV1Api) -> None:
    """Growing is allowed where the class expands; ``status.capacity`` follows as a CSI resizer's would."""
    ns, name = claim(core, "standard")
    core.patch_namespaced_persistent_volume_claim(name, ns, storage("2Gi"))
    grown = wait_until(
        lambda: (
            (found := core.read_namespaced_persistent_volume_claim(name, ns)).status.capacity["storage"] == "2Gi"
            and found
        )
    )
    assert "2Gi" == grown.spec.resources.requests["storage"]


def test_a_claim_never_shrinks(core: client.CoreV1Api) -> None:
    """422: ``spec.resources.requests.storage: Forbidden: field can not be less than previous value``."""
    ns, name = claim(core, "standard")
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_persistent_volume_claim(name, ns, storage("512Mi"))
    assert (422, ["spec.resources.requests.storage"]) == (refused.value.status, refused_fields(refused.value))
    assert "Forbidden: field can not be less than previous value" in refusal(refused.value)["message"]


@pytest.mark.parametrize(
    "patch",
    [
        {"spec": {"accessModes": ["ReadWriteMany"]}},
        {"spec": {"storageClassName": "managed-nfs-storage"}},
        {"spec": {"volumeName": "another-volume"}},
        {"spec": {"resources": {"limits": {"storage": "5Gi"}}}},
    ],
)
def test_the_rest_of_the_spec_is_immutable(core: client.CoreV1Api, patch: dict[str, Any]) -> None:
    """Any other change: 422 ``spec: Forbidden: spec is immutable after creation except ...``."""
    ns, name = claim(core, "standard")
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_persistent_volume_claim(name, ns, patch)
    assert (422, ["spec"]) == (refused.value.status, refused_fields(refused.value))
    assert (
        "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        in (refusal(refused.value)["message"])
    )


def test_an_unbound_claim_cannot_grow(core: client.CoreV1Api) -> None:
    """Resizing is for bound claims only: a Pending claim's request is as immutable as the rest."""
    ns, name = claim(core, "no-such-class", bound=False)
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_persistent_volume_claim(name, ns, storage("2Gi"))
    assert (422, ["spec"]) == (refused.value.status, refused_fields(refused.value))


def test_a_class_without_expansion_refuses_growth(core: client.CoreV1Api) -> None:
    """403 from the PersistentVolumeClaimResize admission plugin, in its words."""
    ns, name = claim(core, "fixed")
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_persistent_volume_claim(name, ns, storage("2Gi"))
    assert (403, "Forbidden") == (refused.value.status, refusal(refused.value)["reason"])
    assert (
        'persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be resized and the '
        "storageclass that provisions the pvc must support resize"
    ) in refusal(refused.value)["message"]
    assert "1Gi" == core.read_namespaced_persistent_volume_claim(name, ns).spec.resources.requests["storage"]
