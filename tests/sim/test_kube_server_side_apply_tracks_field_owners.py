# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""Server-side apply records who owns which field and answers a conflict as kube-apiserver does."""

from __future__ import annotations

from typing import Any

import pytest
from kube_support import mongod_statefulset, new_namespace, refusal
from kubernetes import client
from kubernetes.client.exceptions import ApiException

APPLY = "application/apply-patch+yaml"


@pytest.fixture
def core(sim_core: client.CoreV1Api) -> client.CoreV1Api:
    return sim_core


def config_map(data: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}
    return {**body, "data": data} if data else body


def apply_cm(core: client.CoreV1Api, ns: str, manager: str, data: dict[str, str], force: bool = False) -> Any:
    return core.patch_namespaced_config_map(
        "cm", ns, config_map(data), field_manager=manager, force=force, _content_type=APPLY
    )


def owners(obj: Any) -> dict[str, Any]:
    """manager (operation) → its fieldsV1."""
    return {f"{m.manager} ({m.operation})": m.fields_v1 for m in obj.metadata.managed_fields or []}


def test_a_second_manager_changing_an_owned_field_gets_a_conflict(core: client.CoreV1Api) -> None:
    """409 Conflict naming the owner and the field; nothing changes."""
    ns = new_namespace(core)
    first = apply_cm(core, ns, "alice", {"k": "v"})
    assert {"alice (Apply)": {"f:data": {"f:k": {}}}} == owners(first)
    with pytest.raises(ApiException) as refused:
        apply_cm(core, ns, "bob", {"k": "w"})
    status = refusal(refused.value)
    assert (409, "Conflict") == (refused.value.status, status["reason"])
    assert status["message"].startswith('Apply failed with 1 conflict: conflict with "alice": .data.k')
    assert [{"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".data.k"}] == (
        status["details"]["causes"]
    )
    assert first.metadata.resource_version == core.read_namespaced_config_map("cm", ns).metadata.resource_version


def test_force_takes_the_field_over(core: client.CoreV1Api) -> None:
    """With ``force=true`` the field moves to the new manager; the old one now conflicts in turn."""
    ns = new_namespace(core)
    apply_cm(core, ns, "alice", {"k": "v", "mine": "1"})
    forced = apply_cm(core, ns, "bob", {"k": "w"}, force=True)
    assert ("w", {"alice (Apply)": {"f:data": {"f:mine": {}}}, "bob (Apply)": {"f:data": {"f:k": {}}}}) == (
        forced.data["k"],
        owners(forced),
    )
    with pytest.raises(ApiException) as refused:
        apply_cm(core, ns, "alice", {"k": "v", "mine": "1"})
    assert 'conflict with "bob": .data.k' in refusal(refused.value)["message"]


def test_the_same_value_is_shared_and_stays_until_no_one_applies_it(core: client.CoreV1Api) -> None:
    """Applying another manager's value is co-ownership, not a conflict; a field goes once its last owner drops it."""
    ns = new_namespace(core)
    apply_cm(core, ns, "alice", {"k": "v", "a": "1"})
    shared = apply_cm(core, ns, "bob", {"k": "v"})
    assert {"alice (Apply)", "bob (Apply)"} == {m for m, fields in owners(shared).items() if "f:k" in fields["f:data"]}
    assert {"k": "v"} == apply_cm(core, ns, "alice", {}).data
    assert not apply_cm(core, ns, "bob", {}).data


def test_a_field_its_manager_stops_applying_is_removed(core: client.CoreV1Api) -> None:
    """Apply is declarative: what the configuration no longer says is taken away."""
    ns = new_namespace(core)
    apply_cm(core, ns, "alice", {"k": "v", "j": "w"})
    assert {"j": "w"} == apply_cm(core, ns, "alice", {"j": "w"}).data


def test_an_update_takes_the_fields_it_changes(core: client.CoreV1Api) -> None:
    """A plain patch (``kubectl edit``) moves the field to its manager; the applier then conflicts with it."""
    ns = new_namespace(core)
    apply_cm(core, ns, "alice", {"k": "v"})
    edited = core.patch_namespaced_config_map("cm", ns, {"data": {"k": "edited"}}, field_manager="kubectl-edit")
    assert {"kubectl-edit (Update)": {"f:data": {"f:k": {}}}} == owners(edited)
    with pytest.raises(ApiException) as refused:
        apply_cm(core, ns, "alice", {"k": "v"})
    assert 'conflict with "kubectl-edit" using v1: .data.k' in refusal(refused.value)["message"]
    unnamed = core.patch_namespaced_config_map("cm", ns, {"data": {"k": "again"}})
    assert ["OpenAPI-Generator (Update)"] == list(owners(unnamed))  # the client's User-Agent names it


def test_containers_are_owned_item_by_item_and_their_commands_whole(sim_api: client.ApiClient) -> None:
    """Containers merge by name (two managers, one container each); a container's command is one atomic field."""
    apps = client.AppsV1Api(sim_api)
    ns = new_namespace(client.CoreV1Api(sim_api))
    sts = mongod_statefulset("db")
    apps.patch_namespaced_stateful_set("db", ns, sts, field_manager="agent", _content_type=APPLY)
    exporter = {"name": "exporter", "image": "exporter:1"}
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {"template": {"spec": {"containers": [exporter]}}},
    }
    both = apps.patch_namespaced_stateful_set("db", ns, sidecar, field_manager="monitoring", _content_type=APPLY)
    assert ["mongod", "exporter"] == [c.name for c in both.spec.template.spec.containers]
    extra = {"name": "mongod", "env": [{"name": "EXTRA", "value": "1"}]}
    sidecar["spec"]["template"]["spec"]["containers"] = [exporter, extra]
    apps.patch_namespaced_stateful_set("db", ns, sidecar, field_manager="monitoring", _content_type=APPLY)
    sidecar["spec"]["template"]["spec"]["containers"] = [exporter, {**extra, "command": ["mongod", "--x"]}]
    with pytest.raises(ApiException) as refused:
        apps.patch_namespaced_stateful_set("db", ns, sidecar, field_manager="monitoring", _content_type=APPLY)
    assert '.spec.template.spec.containers[name="mongod"].command' in refusal(refused.value)["message"]
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "mongo:7.0"
    changed = apps.patch_namespaced_stateful_set("db", ns, sts, field_manager="agent", _content_type=APPLY)
    mongod, sidecar_container = changed.spec.template.spec.containers
    assert ("mongo:7.0", "EXTRA", "exporter:1") == (mongod.image, mongod.env[0].name, sidecar_container.image)


def test_a_field_applied_empty_then_filled_keeps_its_content(sim_api: client.ApiClient) -> None:
    """``resources: {}`` then ``resources: {requests: ...}``: the map is still applied, so nothing is removed."""
    apps = client.AppsV1Api(sim_api)
    ns = new_namespace(client.CoreV1Api(sim_api))
    sts = mongod_statefulset("db", replicas=0)
    container = sts["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {}
    apps.patch_namespaced_stateful_set("db", ns, sts, field_manager="agent", _content_type=APPLY)
    container["resources"] = {"requests": {"cpu": "250m"}}
    applied = apps.patch_namespaced_stateful_set("db", ns, sts, field_manager="agent", _content_type=APPLY)
    assert {"cpu": "250m"} == applied.spec.template.spec.containers[0].resources.requests


def test_an_apply_that_changes_nothing_writes_nothing(core: client.CoreV1Api) -> None:
    """Same configuration again: same resourceVersion, same managedFields."""
    ns = new_namespace(core)
    first = apply_cm(core, ns, "alice", {"k": "v"})
    again = apply_cm(core, ns, "alice", {"k": "v"})
    assert (first.metadata.resource_version, owners(first)) == (again.metadata.resource_version, owners(again))


def test_status_is_owned_through_its_subresource(sim_api: client.ApiClient) -> None:
    """An apply to the main resource does not set status; one through ``/status`` is recorded with its subresource."""
    apps = client.AppsV1Api(sim_api)
    ns = new_namespace(client.CoreV1Api(sim_api))
    sts = {**mongod_statefulset("db", replicas=0), "status": {"replicas": 7}}
    made = apps.patch_namespaced_stateful_set("db", ns, sts, field_manager="agent", _content_type=APPLY)
    assert 7 != made.status.replicas
    status = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "status": {"replicas": 0}}
    written = apps.patch_namespaced_stateful_set_status(
        "db", ns, status, field_manager="reporter", _content_type=APPLY, force=True
    )
    assert "status" == next(m.subresource for m in written.metadata.managed_fields if m.manager == "reporter")
