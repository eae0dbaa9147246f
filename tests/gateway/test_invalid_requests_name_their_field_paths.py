"""Refusals are Kubernetes Status objects; an invalid spec names each bad field path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fedstate.api import MONGODB, MULTICLOUD_MONGODB
from tests.dns_labels import BAD_NAMES

Manifest = Callable[..., dict[str, Any]]


def causes(response: httpx.Response) -> dict[str, str]:
    return {c["field"]: c["message"] for c in response.json()["details"]["causes"]}


async def test_a_bad_quantity_is_422_with_its_field_path(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    body = mcm_body("bad", resource={"limits": {"cpu": "2x"}}, replicaset=0)
    response = await api.post(MULTICLOUD_MONGODB.collection_path("default"), json=body)
    assert 422 == response.status_code
    assert {"kind": "Status", "reason": "Invalid", "code": 422}.items() <= response.json().items()
    assert "'2x' is not a Kubernetes quantity" == causes(response)["spec.resource.limits.cpu"]
    assert "must be greater than or equal to 1, got 0" == causes(response)["spec.replicaset"]
    assert {"name": "bad", "kind": "MultiCloudMongoDB"}.items() <= response.json()["details"].items()


async def test_quantities_kubernetes_would_refuse_in_the_members_are_422_and_nothing_is_stored(
    api: httpx.AsyncClient, mcm_body: Manifest
) -> None:
    """A request above its limit, a negative quantity or an empty volume: the API server of every member cluster
    would refuse the StatefulSet, so the instance would be accepted here and never run."""
    resource = {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "3", "memory": "-1Gi"}}
    export = {"enable": True, "resource": {"limits": {"memory": "128Mi"}, "requests": {"memory": "256Mi"}}}
    body = mcm_body("greedy", resource=resource, export=export, storage={"storageSize": "0"})
    response = await api.post(MULTICLOUD_MONGODB.collection_path("default"), json=body)
    assert (422, "Invalid") == (response.status_code, response.json()["reason"])
    assert {
        "spec.resource.requests.cpu": "3 must be less than or equal to the cpu limit of 1",
        "spec.resource.requests.memory": "must be greater than or equal to 0, got -1Gi",
        "spec.export.resource.requests.memory": "256Mi must be less than or equal to the memory limit of 128Mi",
        "spec.storage.storageSize": "must be greater than zero, got 0",
    } == causes(response)
    assert [] == (await api.get(MULTICLOUD_MONGODB.collection_path("default"))).json()["items"]
    fitting = mcm_body("fitting", resource={"limits": {"cpu": "1"}, "requests": {"cpu": "1000m"}})
    assert 201 == (await api.post(MULTICLOUD_MONGODB.collection_path("default"), json=fitting)).status_code


async def test_labels_no_api_server_would_take_are_422_on_objects_and_node_selectors(
    api: httpx.AsyncClient, mcm_body: Manifest
) -> None:
    """An object's labels, and the node selector its members' pods get, follow Kubernetes' label rules."""
    body = mcm_body("labelled", spreadConstraints={"nodeSelect": {"deploy": "mongo db"}})
    body["metadata"]["labels"] = {"team/a/b": "x"}
    response = await api.post(MULTICLOUD_MONGODB.collection_path("default"), json=body)
    assert (422, ["metadata.labels", "spec.spreadConstraints.nodeSelect"]) == (
        response.status_code,
        sorted(causes(response)),
    )
    assert causes(response)["spec.spreadConstraints.nodeSelect"].startswith(
        'invalid label value "mongo db" of deploy: a label value must consist of alphanumeric characters'
    )
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"-bad": "x"}}}
    refused = await api.post("/api/v1/namespaces/default/configmaps", json=config_map)
    assert (422, ["metadata.labels"]) == (refused.status_code, list(causes(refused)))


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_a_name_that_is_not_a_dns_1123_label_is_422_with_its_field_path(
    api: httpx.AsyncClient, mcm_body: Manifest, name: str
) -> None:
    """kubectl's answer to a bad name: 422 Invalid, the cause naming metadata.name; nothing is stored."""
    response = await api.post(MULTICLOUD_MONGODB.collection_path("default"), json=mcm_body(name))
    assert (422, "Invalid") == (response.status_code, response.json()["reason"])
    assert ["metadata.name"] == list(causes(response))
    listed = await api.get(MULTICLOUD_MONGODB.collection_path("default"))
    assert [] == listed.json()["items"]


@pytest.mark.parametrize("name", ["*", ">", "with space", "line%0Abreak", "bad.name"])
async def test_reading_or_deleting_a_name_that_is_not_a_dns_1123_label_finds_nothing(
    api: httpx.AsyncClient, mcm_body: Manifest, name: str
) -> None:
    """kubectl's answer is NotFound; a wildcard never reads nor deletes another object."""
    await api.post(MULTICLOUD_MONGODB.collection_path("default"), json=mcm_body("real"))
    read = await api.get(MULTICLOUD_MONGODB.item_path("default", name))
    deleted = await api.delete(MULTICLOUD_MONGODB.item_path("default", name))
    assert [(404, "NotFound")] * 2 == [(r.status_code, r.json()["reason"]) for r in (read, deleted)]
    real = (await api.get(MULTICLOUD_MONGODB.item_path("default", "real"))).json()
    assert "deletionTimestamp" not in real["metadata"]


async def test_a_namespace_that_is_not_a_dns_1123_label_is_422_with_its_field_path(
    api: httpx.AsyncClient, mcm_body: Manifest
) -> None:
    response = await api.post(MULTICLOUD_MONGODB.collection_path("bad_namespace"), json=mcm_body("ok"))
    assert (422, ["metadata.namespace"]) == (response.status_code, list(causes(response)))


async def test_a_body_that_contradicts_the_path_is_400(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    other_name = await api.put(MULTICLOUD_MONGODB.item_path("default", "a"), json=mcm_body("b"))
    other_namespace = await api.post(
        MULTICLOUD_MONGODB.collection_path("default"),
        json={**mcm_body("c"), "metadata": {"name": "c", "namespace": "x"}},
    )
    wrong_kind = await api.post(MONGODB.collection_path("default"), json=mcm_body("d"))
    assert [400, 400, 400] == [r.status_code for r in (other_name, other_namespace, wrong_kind)]
    assert "does not match the name on the URL" in other_name.json()["message"]


async def test_a_body_that_is_not_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        MULTICLOUD_MONGODB.collection_path("default"),
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert (400, "BadRequest") == (response.status_code, response.json()["reason"])


async def test_a_mongodb_needs_a_member_cluster(api: httpx.AsyncClient) -> None:
    body = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MongoDB", "metadata": {"name": "solo"}}
    response = await api.post(MONGODB.collection_path("default"), json=body)
    assert 422 == response.status_code
    assert "targetCluster" in causes(response)


async def test_an_unknown_path_is_a_not_found_status(api: httpx.AsyncClient) -> None:
    response = await api.get("/apis/middleware.fedstate.io/v1alpha1/namespaces/default/widgets")
    assert (404, "Status") == (response.status_code, response.json()["kind"])
