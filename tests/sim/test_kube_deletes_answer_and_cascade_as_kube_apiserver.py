# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""DELETE answers what kube-apiserver answers, and Foreground deletion waits for the dependents that block it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kube_support import new_namespace, wait_until
from kubernetes import client
from kubernetes.client.exceptions import ApiException


def _raw_delete(sim_api: client.ApiClient, path: str) -> dict[str, Any]:
    """The body a DELETE answers, whatever its kind."""
    auth = sim_api.configuration.auth_settings()["BearerToken"]  # the cluster-admin's token, as the client sends it
    response = sim_api.call_api("DELETE", sim_api.configuration.host + path, header_params={auth["key"]: auth["value"]})
    answer: dict[str, Any] = json.loads(response.read())
    return answer


def test_deleting_a_config_map_answers_a_status_a_pod_answers_itself(sim_api: client.ApiClient) -> None:
    """``ReturnDeletedObject`` kinds (pods, services, claims, service accounts, storage classes) return the
    object; the others a ``Status`` whose details name the resource; an object held by a finalizer returns itself."""
    core = client.CoreV1Api(sim_api)
    ns = new_namespace(core)
    made = core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}})
    status = _raw_delete(sim_api, f"/api/v1/namespaces/{ns}/configmaps/cm")
    assert {"kind": "Status", "status": "Success"} == {k: status[k] for k in ("kind", "status")}
    assert {"name": "cm", "kind": "configmaps", "uid": made.metadata.uid} == status["details"]
    core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    assert "Pod" == _raw_delete(sim_api, f"/api/v1/namespaces/{ns}/pods/p")["kind"]
    core.create_namespaced_config_map(ns, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    held = _raw_delete(sim_api, f"/api/v1/namespaces/{ns}/configmaps/held")
    assert ("ConfigMap", True) == (held["kind"], "deletionTimestamp" in held["metadata"])


def owned_by(owner: Any, name: str, block: bool = True, finalizers: list[str] | None = None) -> dict[str, Any]:
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": block,
    }
    return {"metadata": {"name": name, "ownerReferences": [reference], "finalizers": finalizers or []}}


def test_foreground_deletion_holds_the_owner_until_blocking_dependents_are_gone(sim_core: client.CoreV1Api) -> None:
    """The owner shows ``foregroundDeletion`` while a blocking dependent is held; then both go."""
    ns = new_namespace(sim_core)
    owner = sim_core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    sim_core.create_namespaced_config_map(ns, owned_by(owner, "held", finalizers=["example.com/hold"]))
    sim_core.create_namespaced_config_map(ns, owned_by(owner, "plain"))
    sim_core.delete_namespaced_config_map("owner", ns, propagation_policy="Foreground")
    deleting = sim_core.read_namespaced_config_map("owner", ns)
    assert deleting.metadata.deletion_timestamp and "foregroundDeletion" in deleting.metadata.finalizers
    wait_until(lambda: sim_core.read_namespaced_config_map("held", ns).metadata.deletion_timestamp)

    def names() -> set[str]:
        return {c.metadata.name for c in sim_core.list_namespaced_config_map(ns).items} - {"kube-root-ca.crt"}

    wait_until(lambda: names() == {"owner", "held"})
    sim_core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
    wait_until(lambda: not names())


def test_background_deletion_removes_the_owner_at_once(sim_core: client.CoreV1Api) -> None:
    """The default: the owner goes now, its dependents after it."""
    ns = new_namespace(sim_core)
    owner = sim_core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    sim_core.create_namespaced_config_map(ns, owned_by(owner, "dependent"))
    sim_core.delete_namespaced_config_map("owner", ns)
    with pytest.raises(ApiException) as gone:
        sim_core.read_namespaced_config_map("owner", ns)
    assert 404 == gone.value.status
    wait_until(lambda: "dependent" not in {c.metadata.name for c in sim_core.list_namespaced_config_map(ns).items})
