"""A Kubernetes user's way in: `fedstate up` serves the CRDs in its control-plane cluster (context
``control-plane`` of .fedstate/kubeconfig) and runs the crd-bridge. The seed sample applied there as a custom
resource becomes a healthy replica set whose custom resource shows Health with the seed's status shape; an edit
of replicaset scales it; a delete waits for its members to go; an invalid object says why and reaches nothing."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.cli.demo import sample_path
from fedstate.cli.localstack import LocalStack
from fedstate.cli.stack import CONTROL_PLANE_CONTEXT

from .invariants import wait_until

GROUP, VERSION, PLURAL = "middleware.fedstate.io", "v1alpha1", "multicloudmongodbs"
NAMESPACE = "bridged"  # its own namespace: the seed sample's name is the other tests' too


@pytest.fixture(scope="module")
def control_plane(stack: LocalStack) -> client.ApiClient:
    api = config.new_client_from_config(str(stack.paths.kubeconfig), context=CONTROL_PLANE_CONTEXT)
    client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})  # type: ignore[arg-type]
    return api


def read(api: client.ApiClient, name: str) -> dict[str, Any] | None:
    try:
        return dict(client.CustomObjectsApi(api).get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def shown(api: client.ApiClient, obj: dict[str, Any]) -> dict[str, str]:
    """What `kubectl get` prints for ``obj``: the CRD's printer columns (simple paths), by name."""
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    row: dict[str, str] = {}
    for column in crd.spec.versions[0].additional_printer_columns:
        value: Any = obj
        for part in column.json_path.strip(".").split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        row[column.name] = str(value)
    return row


def status_once(api: client.ApiClient, name: str, check: Any, what: str, timeout: float = 120) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def holds() -> bool:
        nonlocal found
        found = read(api, name) or {}
        return bool(found) and bool(check(found.get("status") or {}, found))

    wait_until(holds, what, timeout)
    return found


def on_the_bus(stack: LocalStack, name: str) -> list[str]:
    """The keys of ``name`` in fs-spec and fs-observed (every member cluster's report of its members), as
    `fedstate bus kv ls` shows them."""
    keys = [key for bucket in ("fs-spec", "fs-observed") for key in stack.cli("bus", "kv", "ls", bucket).stdout.split()]
    return [
        key
        for key in keys
        if key.endswith(f".{NAMESPACE}.{name}") or key.endswith(f".{NAMESPACE}.multicloudmongodb.{name}")
    ]


def test_the_seed_sample_as_a_custom_resource_becomes_healthy_scales_and_is_deleted_after_its_members(
    stack: LocalStack, control_plane: client.ApiClient
) -> None:
    custom = client.CustomObjectsApi(control_plane)
    documents = list(yaml.safe_load_all(sample_path().read_text()))
    [sample] = [d for d in documents if d["kind"] == "MultiCloudMongoDB"]
    # The ConfigMap its configRef names is federated through the intake, as `fedstate apply` does.
    configmaps = [d for d in documents if d["kind"] == "ConfigMap"]
    stack.apply_text(
        "bridged-config",
        yaml.safe_dump_all([{**d, "metadata": {**d["metadata"], "namespace": NAMESPACE}} for d in configmaps]),
    )
    name = sample["metadata"]["name"]
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, sample)
    healthy = status_once(control_plane, name, lambda s, _: s.get("state") == "Health", "the custom resource Health")
    status = healthy["status"]
    assert {"conditions", "externalAddr", "result", "state"} <= set(status)
    assert [2, 2, 1] == sorted((r["replicasetSpec"] for r in status["result"]), reverse=True)
    assert {"ServerReady", "ServerCheck", "ServerScheduledResult", "Synced", "Ready"} <= {
        c["type"] for c in status["conditions"]
    }
    assert 1 == status["observedGeneration"]
    row = shown(control_plane, healthy)
    assert "Health" == row["STATE"] and "@member-" in row["PRIMARY"] and row["AGE"]
    # The federation's own view agrees: the gateway lists the object the bridge submitted.
    assert stack.gateway.find_object(MULTICLOUD_MONGODB, NAMESPACE, name) is not None

    custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name, {"spec": {"replicaset": 3}})

    def scaled(s: dict[str, Any], _: Any) -> bool:
        members = sum(r.get("replicasetStatus", 0) for r in s.get("result", []))
        return s.get("observedGeneration") == 2 and s.get("state") == "Health" and members == 3

    status_once(control_plane, name, scaled, "the custom resource scaled to 3 members")

    assert len(on_the_bus(stack, name)) > 1  # its spec, and its members' reports
    deleted = custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)
    # The bridge's finalizer holds the object while its members are removed (the simulator removes them within
    # a second or so: the ordering itself is checked in tests/crdbridge, where the test decides when they go).
    assert (
        deleted["metadata"].get("deletionTimestamp") and "fedstate.io/crd-bridge" in deleted["metadata"]["finalizers"]
    )
    wait_until(lambda: read(control_plane, name) is None, "the custom resource to go", 120)
    # It went once every member cluster had reported its members gone, as the federation told.
    assert [] == on_the_bus(stack, name)
    assert stack.gateway.find_object(MULTICLOUD_MONGODB, NAMESPACE, name) is None
    told = [e.message for e in stack.gateway.events(NAMESPACE, name).items if e.reason == "Deleted"]
    assert told and "members in every cluster are gone" in told[-1]


def test_an_invalid_custom_resource_shows_the_field_path_and_reaches_nothing(
    stack: LocalStack, control_plane: client.ApiClient
) -> None:
    bad = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": "typo"},
        "spec": {"replicaset": 3, "storage": {"storageSize": "lots"}},
    }
    client.CustomObjectsApi(control_plane).create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, bad)

    def refused(s: dict[str, Any], _: Any) -> bool:
        return any(c["type"] == "Synced" and c["status"] == "False" for c in s.get("conditions", []))

    found = status_once(control_plane, "typo", refused, "the refusal on the custom resource", 60)
    synced = next(c for c in found["status"]["conditions"] if c["type"] == "Synced")
    assert "Invalid" == synced["reason"] and "spec.storage.storageSize" in synced["message"]
    events = client.CoreV1Api(control_plane).list_namespaced_event(NAMESPACE).items
    assert any(e.involved_object.name == "typo" and e.reason == "Invalid" for e in events)
    assert stack.gateway.find_object(MULTICLOUD_MONGODB, NAMESPACE, "typo") is None
    assert [] == on_the_bus(stack, "typo")
