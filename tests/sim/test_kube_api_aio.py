# The official client types every model field as Optional and its methods as taking models, while it
# accepts plain dict bodies at runtime; these tests read fields the server always sets.
# mypy: disable-error-code="union-attr, arg-type, index, operator, misc"
"""The asyncio flavour of the official client (``kubernetes.aio``) works against the simulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from kube_support import crd, eventually, mongod_statefulset, node_port_service
from kubernetes.aio import client
from kubernetes.aio import watch as aio_watch
from kubernetes.aio.client.exceptions import ApiException

from fedstate_sim.config import default_config
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.world import NullMemberHost, World


@pytest.fixture
async def api() -> AsyncIterator[client.ApiClient]:
    async with World(default_config(1), host=NullMemberHost()) as world:
        configuration = client.Configuration(host=world.clusters["member-1"].api_url)
        configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with client.ApiClient(configuration) as api_client:
            core = client.CoreV1Api(api_client)
            await core.create_namespace({"metadata": {"name": "app"}})

            async def root_ca_published() -> list[object]:
                listed = await core.list_namespaced_config_map("app", field_selector="metadata.name=kube-root-ca.crt")
                return list(listed.items)

            await eventually(root_ca_published)  # first, so the watches below see only the tests' own objects
            yield api_client


def _pod(name: str, labels: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"name": name, "labels": labels}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def test_aio_crud_and_selectors(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_pod("app", _pod("a", {"app": "db"}))
    await core.create_namespaced_pod("app", _pod("b", {"app": "web"}))
    pod = await core.read_namespaced_pod("a", "app")
    assert pod.metadata.labels == {"app": "db"}
    listed = await core.list_namespaced_pod("app", label_selector="app in (db)")
    assert [p.metadata.name for p in listed.items] == ["a"]
    service = await core.create_namespaced_service("app", node_port_service("a", "a"))
    assert 30000 <= service.spec.ports[0].node_port <= 32767
    await core.delete_namespaced_pod("a", "app")
    with pytest.raises(ApiException) as missing:
        await core.read_namespaced_pod("a", "app")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["message"].endswith("(fedstate simulator)")


async def test_aio_strategic_patch_of_a_statefulset(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    await apps.create_namespaced_stateful_set("app", mongod_statefulset("db"))
    patched = await apps.patch_namespaced_stateful_set(
        "db",
        "app",
        {
            "spec": {
                "replicas": 2,
                "template": {"spec": {"containers": [{"name": "mongod", "resources": {"requests": {"cpu": "2"}}}]}},
            }
        },
    )
    container = patched.spec.template.spec.containers[0]
    assert (patched.spec.replicas, container.image, container.resources.requests["cpu"]) == (2, "mongo:6.0", "2")


async def test_aio_watch_from_a_resource_version(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    start = (await core.list_namespaced_config_map("app")).metadata.resource_version
    await core.create_namespaced_config_map("app", {"metadata": {"name": "one"}})
    await core.patch_namespaced_config_map("one", "app", {"data": {"x": "1"}})
    seen = []
    async with aio_watch.Watch() as stream:
        async for event in stream.stream(
            core.list_namespaced_config_map, "app", resource_version=start, timeout_seconds=1
        ):
            seen.append((event["type"], event["object"].metadata.name))
    assert seen == [("ADDED", "one"), ("MODIFIED", "one")]


async def test_aio_custom_objects(api: client.ApiClient) -> None:
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(crd())
    custom = client.CustomObjectsApi(api)
    args = ("middleware.fedstate.io", "v1alpha1", "app", "mongodbs")
    await custom.create_namespaced_custom_object(
        *args,
        {
            "apiVersion": "middleware.fedstate.io/v1alpha1",
            "kind": "MongoDB",
            "metadata": {"name": "m"},
            "spec": {"members": 1},
        },
    )
    patched = await custom.patch_namespaced_custom_object(*args, "m", {"spec": {"members": 3}})
    assert patched["spec"]["members"] == 3
    status = await custom.patch_namespaced_custom_object_status(*args, "m", {"status": {"state": "Running"}})
    assert status["status"] == {"state": "Running"}
