"""Objects written through the gateway come back as Kubernetes shows them: metadata, spec and status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from fedstate.api import MULTICLOUD_MONGODB
from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import StatusRecord
from fedstate.models.multicloud import ClusterResult, InstanceState, MultiCloudMongoDBStatus

Manifest = Callable[..., dict[str, Any]]


async def test_a_created_object_reads_back_with_server_metadata(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    """POST answers 201 with uid, generation 1 and creationTimestamp; GET returns the same object."""
    created = await api.post(MULTICLOUD_MONGODB.collection_path("default"), json=mcm_body("alpha"))
    assert 201 == created.status_code
    read = (await api.get(MULTICLOUD_MONGODB.item_path("default", "alpha"))).json()
    assert "middleware.fedstate.io/v1alpha1" == read["apiVersion"]
    assert "MultiCloudMongoDB" == read["kind"]
    assert {"uid", "generation", "creationTimestamp", "resourceVersion"} <= set(read["metadata"])
    assert 1 == read["metadata"]["generation"]
    assert 3 == read["spec"]["replicaset"]
    assert {} == read["status"]
    assert created.json()["metadata"]["uid"] == read["metadata"]["uid"]


async def test_post_refuses_an_existing_name(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    await api.post(MULTICLOUD_MONGODB.collection_path("default"), json=mcm_body("twice"))
    again = await api.post(MULTICLOUD_MONGODB.collection_path("default"), json=mcm_body("twice"))
    assert 409 == again.status_code
    assert {"kind": "Status", "reason": "AlreadyExists", "code": 409}.items() <= again.json().items()


async def test_put_creates_then_replaces_with_a_new_generation(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    path = MULTICLOUD_MONGODB.item_path("default", "beta")
    first = await api.put(path, json=mcm_body("beta"))
    second = await api.put(path, json=mcm_body("beta", replicaset=5))
    assert (201, 200) == (first.status_code, second.status_code)
    assert (2, 5) == (second.json()["metadata"]["generation"], second.json()["spec"]["replicaset"])


async def test_lists_cover_one_namespace_or_all(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    await api.post(MULTICLOUD_MONGODB.collection_path("default"), json=mcm_body("one"))
    await api.post(MULTICLOUD_MONGODB.collection_path("team-b"), json=mcm_body("two"))
    namespaced = (await api.get(MULTICLOUD_MONGODB.collection_path("team-b"))).json()
    everywhere = (await api.get(MULTICLOUD_MONGODB.all_namespaces_path())).json()
    assert "MultiCloudMongoDBList" == namespaced["kind"]
    assert ["two"] == [i["metadata"]["name"] for i in namespaced["items"]]
    assert [("default", "one"), ("team-b", "two")] == [
        (i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]
    ]


async def test_delete_marks_the_object_for_the_orchestrator(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    """The federation finalizer keeps the object, now carrying a deletionTimestamp, until its members are gone."""
    path = MULTICLOUD_MONGODB.item_path("default", "gone")
    await api.put(path, json=mcm_body("gone"))
    deleted = await api.delete(path)
    assert 200 == deleted.status_code
    assert "deletionTimestamp" in (await api.get(path)).json()["metadata"]


async def test_an_unknown_object_is_a_kubernetes_not_found(api: httpx.AsyncClient) -> None:
    for response in (
        await api.get(MULTICLOUD_MONGODB.item_path("default", "nobody")),
        await api.delete(MULTICLOUD_MONGODB.item_path("default", "nobody")),
    ):
        assert 404 == response.status_code
        assert {"kind": "Status", "status": "Failure", "reason": "NotFound"}.items() <= response.json().items()


async def test_status_comes_from_fs_status(api: httpx.AsyncClient, bus: Bus, tenant: str, mcm_body: Manifest) -> None:
    await api.put(MULTICLOUD_MONGODB.item_path("default", "healthy"), json=mcm_body("healthy"))
    status = MultiCloudMongoDBStatus(
        state=InstanceState.HEALTH,
        external_addr="127.0.1.1:30001",
        result=[ClusterResult(cluster="member-1", connect_addr_with_role={"127.0.1.1:30001": "PRIMARY"})],
    )
    key = InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, "healthy")
    await bus.status.put(key.status_key, StatusRecord(kind="MultiCloudMongoDB", multicloud=status))
    read = (await api.get(MULTICLOUD_MONGODB.item_path("default", "healthy"))).json()
    assert "Health" == read["status"]["state"]
    assert {"127.0.1.1:30001": "PRIMARY"} == read["status"]["result"][0]["connectAddrWithRole"]
