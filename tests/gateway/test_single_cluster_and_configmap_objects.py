"""MongoDB objects target one member cluster; ConfigMaps carry data, not a spec."""

from __future__ import annotations

import httpx

from fedstate.api import CONFIGMAP, MONGODB
from fedstate.api.resources import CLUSTER_ANNOTATION


def mongodb(name: str, annotations: dict[str, str] | None = None) -> dict[str, object]:
    metadata = {"name": name, "annotations": annotations or {}}
    return {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MongoDB", "metadata": metadata, "spec": {}}


async def test_the_cluster_query_names_the_target(api: httpx.AsyncClient) -> None:
    created = await api.post(MONGODB.collection_path("default"), params={"cluster": "member-2"}, json=mongodb("q"))
    assert 201 == created.status_code
    read = (await api.get(MONGODB.item_path("default", "q"))).json()
    assert "member-2" == read["metadata"]["annotations"][CLUSTER_ANNOTATION]
    assert 3 == read["spec"]["members"]


async def test_the_annotation_names_the_target(api: httpx.AsyncClient) -> None:
    body = mongodb("annotated", {CLUSTER_ANNOTATION: "member-3"})
    await api.put(MONGODB.item_path("default", "annotated"), json=body)
    listed = (await api.get(MONGODB.all_namespaces_path())).json()["items"]
    assert ["member-3"] == [i["metadata"]["annotations"][CLUSTER_ANNOTATION] for i in listed]


async def test_a_configmap_is_stored_with_its_data(api: httpx.AsyncClient) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mongod-conf"}, "data": {"a.conf": "x: 1"}}
    assert 201 == (await api.put(CONFIGMAP.item_path("default", "mongod-conf"), json=body)).status_code
    read = (await api.get(CONFIGMAP.item_path("default", "mongod-conf"))).json()
    assert ("v1", "ConfigMap", {"a.conf": "x: 1"}) == (read["apiVersion"], read["kind"], read["data"])
    assert "spec" not in read


async def test_a_cluster_nobody_reported_is_refused_with_the_field(api: httpx.AsyncClient) -> None:
    """Accepting it would leave the object Pending forever with nothing saying why."""
    refused = await api.post(MONGODB.collection_path("default"), params={"cluster": "member-9"}, json=mongodb("nine"))
    assert 422 == refused.status_code
    body = refused.json()
    assert "member-9" in body["message"] and "is not a member cluster" in body["message"]
    assert ["targetCluster"] == [c["field"] for c in body["details"]["causes"]]
    assert 404 == (await api.get(MONGODB.item_path("default", "nine"))).status_code
