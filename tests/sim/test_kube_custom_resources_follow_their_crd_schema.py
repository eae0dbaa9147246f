# The official client types its methods as taking models, while it accepts plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index, call-overload"
"""Custom resources are pruned, defaulted and validated by their CRD's schema; a CRD goes only after its resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_support import crd, new_namespace, refusal, refused_fields, wait_until
from kubernetes import client
from kubernetes.client.exceptions import ApiException

GROUP, VERSION, PLURAL, KIND = "test.fedstate.io", "v1alpha1", "widgets", "Widget"
SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["members"],
            "properties": {
                "members": {"type": "integer", "minimum": 1, "maximum": 50},
                "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "policy": {"type": "string", "default": "Retain"},
                "note": {"type": "string", "nullable": True},
                "enabled": {"type": "boolean"},
            },
        },
        "status": {"type": "object", "properties": {"state": {"type": "string", "enum": ["Pending", "Running"]}}},
    },
}
CRD_FILE = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "crds.yaml"


@pytest.fixture(scope="module")
def custom(sim_api: client.ApiClient) -> client.CustomObjectsApi:
    client.ApiextensionsV1Api(sim_api).create_custom_resource_definition(crd(GROUP, KIND, PLURAL, SCHEMA))
    return client.CustomObjectsApi(sim_api)


def widget(spec: dict[str, Any], name: str = "w", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "metadata": {"name": name}, "spec": spec, **extra}


def create(custom: client.CustomObjectsApi, ns: str, body: dict[str, Any]) -> Any:
    return custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (
            {"members": "notanint"},
            "spec.members",
            'spec.members: Invalid value: "string": spec.members in body must be of type integer: "string"',
        ),
        ({}, "spec.members", "spec.members: Required value"),
        (
            {"members": 0},
            "spec.members",
            "spec.members: Invalid value: 0: spec.members in body should be greater than or equal to 1",
        ),
        ({"members": 51}, "spec.members", "spec.members in body should be less than or equal to 50"),
        ({"members": 1, "ratio": 0}, "spec.ratio", "spec.ratio in body should be greater than 0"),
        ({"members": 1, "mode": "c"}, "spec.mode", 'spec.mode: Unsupported value: "c": supported values: "a", "b"'),
        ({"members": 1, "name": ""}, "spec.name", "spec.name in body should be at least 1 chars long"),
        ({"members": 1, "name": "abcdef"}, "spec.name", "spec.name in body should be at most 5 chars long"),
        ({"members": 1, "name": "ABC"}, "spec.name", "spec.name in body should match '^[a-z]+$'"),
        ({"members": 1, "port": True}, "spec.port", "spec.port in body must be of type int-or-string"),
        ({"members": 1, "tags": ["a", "b", "c"]}, "spec.tags", "spec.tags: Too many: 3: must have at most 2 items"),
        ({"members": 1, "tags": [1]}, "spec.tags[0]", "spec.tags[0] in body must be of type string"),
        ({"members": 1, "labels": {"k": 1}}, "spec.labels.k", "spec.labels.k in body must be of type string"),
        ({"members": 1, "enabled": "yes"}, "spec.enabled", "spec.enabled in body must be of type boolean"),
    ],
)
def test_a_resource_breaking_its_schema_is_refused(
    sim_core: client.CoreV1Api, custom: client.CustomObjectsApi, spec: dict[str, Any], field: str, words: str
) -> None:
    """422 Invalid with the field path and kube-openapi's words, on create."""
    ns = new_namespace(sim_core)
    with pytest.raises(ApiException) as refused:
        create(custom, ns, widget(spec))
    status = refusal(refused.value)
    assert (422, "Invalid", {field}) == (refused.value.status, status["reason"], set(refused_fields(refused.value)))
    assert status["message"].startswith(f'{KIND}.{GROUP} "w" is invalid: ')
    assert words in status["message"]
    assert (KIND, GROUP) == (status["details"]["kind"], status["details"]["group"])


def test_updates_and_status_writes_are_validated_too(
    sim_core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    """A patch to the spec or to the status subresource is held to the same schema."""
    ns = new_namespace(sim_core)
    create(custom, ns, widget({"members": 3}))
    with pytest.raises(ApiException) as patched:
        custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "w", {"spec": {"members": "three"}})
    assert ["spec.members"] == refused_fields(patched.value)
    with pytest.raises(ApiException) as status:
        custom.patch_namespaced_custom_object_status(GROUP, VERSION, ns, PLURAL, "w", {"status": {"state": "Lost"}})
    assert ["status.state"] == refused_fields(status.value)
    written = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, "w", {"status": {"state": "Running", "extra": 1}}
    )
    assert {"state": "Running"} == written["status"]


def test_unknown_fields_are_pruned_and_defaults_filled(
    sim_core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    """What the schema does not name is dropped (unless preserved); absent defaults are set; null stays only if nullable."""
    ns = new_namespace(sim_core)
    spec = {
        "members": 3,
        "unknown": "dropped",
        "port": "http",
        "labels": {"any": "kept"},
        "free": {"whatever": {"nested": [1, 2]}},
        "note": None,
        "mode": None,
    }
    made = create(custom, ns, widget(spec, extra_top_level="dropped"))
    assert {
        "members": 3,
        "port": "http",
        "labels": {"any": "kept"},
        "free": {"whatever": {"nested": [1, 2]}},
        "note": None,
        "policy": "Retain",
    } == made["spec"]
    assert "extra_top_level" not in made


def test_the_products_crds_refuse_what_their_schemas_forbid(sim_api: client.ApiClient) -> None:
    """deploy/k8s/crds.yaml as a real cluster applies it: ``members: "notanint"`` is a 422, not a stored string."""
    ext, custom = client.ApiextensionsV1Api(sim_api), client.CustomObjectsApi(sim_api)
    for definition in yaml.safe_load_all(CRD_FILE.read_text()):
        ext.create_custom_resource_definition(definition)
    ns = new_namespace(client.CoreV1Api(sim_api))
    body = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MongoDB", "metadata": {"name": "m"}}
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(
            "middleware.fedstate.io", "v1alpha1", ns, "mongodbs", {**body, "spec": {"members": "notanint"}}
        )
    assert ["spec.members"] == refused_fields(refused.value)
    made = custom.create_namespaced_custom_object(
        "middleware.fedstate.io", "v1alpha1", ns, "mongodbs", {**body, "spec": {"members": 3, "anything": "kept"}}
    )
    assert {"members": 3, "anything": "kept"} == made["spec"]


def test_a_crd_without_a_structural_schema_is_refused(sim_api: client.ApiClient) -> None:
    """apiextensions.k8s.io/v1 requires a schema per version, an object at its root."""
    ext = client.ApiextensionsV1Api(sim_api)
    with pytest.raises(ApiException) as refused:
        ext.create_custom_resource_definition(crd(GROUP, "Gadget", "gadgets", schema=None))
    assert ["spec.versions[0].schema.openAPIV3Schema"] == refused_fields(refused.value)
    with pytest.raises(ApiException) as not_object:
        ext.create_custom_resource_definition(crd(GROUP, "Gadget", "gadgets", schema={"type": "string"}))
    assert ["spec.versions[0].schema.openAPIV3Schema.type"] == refused_fields(not_object.value)


def test_a_deleted_crd_waits_for_its_resources_and_their_finalizers(sim_api: client.ApiClient) -> None:
    """Terminating: resources deleted, a held one keeps the CRD (no new resource may be created); then both go."""
    ext, custom, core = (
        client.ApiextensionsV1Api(sim_api),
        client.CustomObjectsApi(sim_api),
        client.CoreV1Api(sim_api),
    )
    ext.create_custom_resource_definition(crd(GROUP, "Doomed", "doomeds", SCHEMA))
    ns = new_namespace(core)
    args = (GROUP, VERSION, ns, "doomeds")
    held = {**widget({"members": 1}, "held"), "kind": "Doomed"}
    held["metadata"]["finalizers"] = ["fedstate.io/agent"]
    custom.create_namespaced_custom_object(*args, held)
    custom.create_namespaced_custom_object(*args, {**widget({"members": 1}, "free"), "kind": "Doomed"})
    ext.delete_custom_resource_definition(f"doomeds.{GROUP}")
    wait_until(
        lambda: [i["metadata"]["name"] for i in custom.list_namespaced_custom_object(*args)["items"]] == ["held"]
    )
    terminating = ext.read_custom_resource_definition(f"doomeds.{GROUP}")
    assert terminating.metadata.deletion_timestamp is not None
    assert "True" == next(c.status for c in terminating.status.conditions if c.type == "Terminating")
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(*args, {**widget({"members": 1}, "late"), "kind": "Doomed"})
    assert 405 == refused.value.status
    custom.patch_namespaced_custom_object(*args, "held", {"metadata": {"finalizers": None}})

    def gone() -> bool:
        try:
            ext.read_custom_resource_definition(f"doomeds.{GROUP}")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_until(gone)
    with pytest.raises(ApiException) as unserved:
        custom.list_namespaced_custom_object(*args)
    assert 404 == unserved.value.status
