"""What a Kubernetes client sends is understood (issue 15, item 4): merge and JSON patches, which go through the
intake's validation as a PUT does; YAML bodies; field selectors on lists. Bad input gets kube-apiserver's codes
(400, 409, 415, 422) as a Status, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml

from fedstate.api import CONFIGMAP, MONGODB, MULTICLOUD_MONGODB
from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import LocalObject, StatusRecord
from fedstate.models.mongodb import DataPlaneState, MongoDBStatus
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus

Manifest = Callable[..., dict[str, Any]]
ITEM = MULTICLOUD_MONGODB.item_path("default", "p")
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


async def send_patch(api: httpx.AsyncClient, body: Any, headers: dict[str, str], path: str = ITEM) -> httpx.Response:
    return await api.patch(path, content=json.dumps(body), headers=headers)


async def test_a_merge_patch_changes_only_what_it_names(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    await api.put(ITEM, json={**mcm_body("p"), "metadata": {"name": "p", "labels": {"tier": "db", "old": "x"}}})
    patched = await send_patch(api, {"spec": {"replicaset": 5}, "metadata": {"labels": {"old": None}}}, MERGE)
    assert 200 == patched.status_code
    read = (await api.get(ITEM)).json()
    assert (5, "mongo:6.0", {"tier": "db"}) == (
        read["spec"]["replicaset"],
        read["spec"]["imageSetting"]["image"],
        read["metadata"]["labels"],
    )
    assert 2 == read["metadata"]["generation"]


async def test_a_json_patch_applies_its_operations(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    await api.put(ITEM, json=mcm_body("p"))
    operations = [
        {"op": "test", "path": "/spec/replicaset", "value": 3},
        {"op": "replace", "path": "/spec/replicaset", "value": 7},
    ]
    assert 200 == (await send_patch(api, operations, JSON_PATCH)).status_code
    assert 7 == (await api.get(ITEM)).json()["spec"]["replicaset"]
    failing = await send_patch(api, [{"op": "test", "path": "/spec/replicaset", "value": 3}], JSON_PATCH)
    assert (422, "Status") == (failing.status_code, failing.json()["kind"])


async def test_a_patch_is_validated_as_a_put_is_and_writes_nothing_when_refused(
    api: httpx.AsyncClient, mcm_body: Manifest
) -> None:
    await api.put(ITEM, json=mcm_body("p"))
    refused = await send_patch(api, {"spec": {"replicaset": "three"}}, MERGE)
    assert (422, "Invalid") == (refused.status_code, refused.json()["reason"])
    assert ["spec.replicaset"] == [c["field"] for c in refused.json()["details"]["causes"]]
    stale = await send_patch(api, {"metadata": {"resourceVersion": "1"}, "spec": {"replicaset": 5}}, MERGE)
    assert (409, "Conflict") == (stale.status_code, stale.json()["reason"])
    assert 3 == (await api.get(ITEM)).json()["spec"]["replicaset"]


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        ({"Content-Type": "application/strategic-merge-patch+json"}, {"spec": {}}, 415),
        ({"Content-Type": "application/apply-patch+yaml"}, {"spec": {}}, 415),
        (MERGE, "not json{", 400),
        (JSON_PATCH, {"op": "replace"}, 400),
    ],
)
async def test_a_patch_kubernetes_would_refuse_is_refused_alike(
    api: httpx.AsyncClient, mcm_body: Manifest, headers: dict[str, str], body: Any, code: int
) -> None:
    await api.put(ITEM, json=mcm_body("p"))
    content = body if isinstance(body, str) else json.dumps(body)
    response = await api.patch(ITEM, content=content, headers=headers)
    assert (code, "Status") == (response.status_code, response.json()["kind"])


async def test_patching_nothing_is_404(api: httpx.AsyncClient) -> None:
    response = await send_patch(api, {"spec": {"replicaset": 5}}, MERGE, MULTICLOUD_MONGODB.item_path("default", "no"))
    assert (404, "NotFound") == (response.status_code, response.json()["reason"])


async def test_a_configmap_takes_kubectls_strategic_merge_patch(api: httpx.AsyncClient) -> None:
    path = CONFIGMAP.item_path("default", "conf")
    await api.put(
        path, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}, "data": {"a": "1"}}
    )
    headers = {"Content-Type": "application/strategic-merge-patch+json"}
    assert 200 == (await send_patch(api, {"data": {"b": "2"}}, headers, path)).status_code
    assert {"a": "1", "b": "2"} == (await api.get(path)).json()["data"]


async def test_yaml_bodies_are_read_as_json_ones(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    headers = {"Content-Type": "application/yaml"}
    created = await api.post(
        MULTICLOUD_MONGODB.collection_path("default"), content=yaml.safe_dump(mcm_body("y")), headers=headers
    )
    assert (201, 3) == (created.status_code, created.json()["spec"]["replicaset"])
    replaced = await api.put(
        MULTICLOUD_MONGODB.item_path("default", "y"),
        content=yaml.safe_dump(mcm_body("y", replicaset=5)),
        headers=headers,
    )
    assert (200, 5) == (replaced.status_code, replaced.json()["spec"]["replicaset"])


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        ("a: &x [1]\nb: *x\n", "application/yaml", 400),  # aliases
        ("a: 1\n---\nb: 2\n", "application/yaml", 400),  # two documents
        ("- a\n- b\n", "application/yaml", 400),  # not an object
        ("key: [unclosed", "application/yaml", 400),
        ("<xml/>", "application/xml", 415),
    ],
)
async def test_a_body_that_is_not_one_object_is_refused_before_the_intake(
    api: httpx.AsyncClient, content: str, content_type: str, code: int
) -> None:
    path = MULTICLOUD_MONGODB.collection_path("default")
    response = await api.post(path, content=content, headers={"Content-Type": content_type})
    assert (code, "Status") == (response.status_code, response.json()["kind"])
    assert [] == (await api.get(path)).json()["items"]


async def test_field_selectors_select_by_name_namespace_and_state(
    api: httpx.AsyncClient, bus: Bus, tenant: str, mcm_body: Manifest
) -> None:
    for name in ("one", "two"):
        await api.put(MULTICLOUD_MONGODB.item_path("default", name), json=mcm_body(name))
    key = InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, "two")
    status = MultiCloudMongoDBStatus(state=InstanceState.HEALTH)
    await bus.status.put(key.status_key, StatusRecord(kind="MultiCloudMongoDB", multicloud=status))

    async def names(selector: str) -> list[str]:
        listed = await api.get(MULTICLOUD_MONGODB.all_namespaces_path(), params={"fieldSelector": selector})
        return [i["metadata"]["name"] for i in listed.json()["items"]]

    assert ["one"] == await names("metadata.name=one")
    assert ["two"] == await names("metadata.name!=one,metadata.namespace==default")
    assert ["two"] == await names("status.state=Health")
    assert ["one"] == await names("status.state!=Health")
    assert [] == await names("metadata.namespace=other")


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("spec.replicaset=3", "field label not supported: spec.replicaset"),
        ("metadata.name in (a,b)", "can't understand"),
    ],
)
async def test_an_unsupported_field_selector_is_400_naming_it(
    api: httpx.AsyncClient, selector: str, message: str
) -> None:
    response = await api.get(MULTICLOUD_MONGODB.collection_path("default"), params={"fieldSelector": selector})
    assert (400, "BadRequest") == (response.status_code, response.json()["reason"])
    assert message in response.json()["message"]


async def test_a_configmap_has_no_state_to_select_by(api: httpx.AsyncClient) -> None:
    response = await api.get(CONFIGMAP.collection_path("default"), params={"fieldSelector": "status.state=Health"})
    assert (400, "field label not supported: status.state") == (response.status_code, response.json()["message"])


async def test_a_patch_that_makes_the_object_too_large_is_413(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    await api.put(ITEM, json=mcm_body("p"))
    huge = await send_patch(api, {"metadata": {"annotations": {"notes": "x" * 600_000}}}, MERGE)
    assert (413, "RequestEntityTooLarge") == (huge.status_code, huge.json()["reason"])
    assert "notes" not in (await api.get(ITEM)).json()["metadata"].get("annotations", {})


async def test_a_member_clusters_own_custom_resource_is_patched_there_not_here(
    api: httpx.AsyncClient, bus: Bus, tenant: str
) -> None:
    found = {"apiVersion": MONGODB.api_version, "kind": "MongoDB", "metadata": {"name": "own", "namespace": "default"}}
    found["spec"] = {"members": 1}
    mirror = LocalObject.of_custom_resource(found, tenant, "member-2", MongoDBStatus(state=DataPlaneState.RUNNING))
    await bus.local.put(InstanceKey(tenant, "default", Kind.MONGODB, "own").local_object_key("member-2"), mirror)
    path = MONGODB.item_path("default", "own")
    response = await send_patch(api, {"spec": {"members": 3}}, MERGE, path)
    assert (405, "kubectl --context member-2 patch mongodb own") == (
        response.status_code,
        response.json()["message"].partition("(")[2].rstrip(")"),
    )
    assert 1 == (await api.get(path)).json()["spec"]["members"]
