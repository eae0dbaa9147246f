"""A Kubernetes client pointed at the gateway finds the kinds by itself and can get, list and watch them (issue 15,
item 4): the official ``kubernetes`` client's dynamic client reads ``/version``, ``/api``, ``/apis`` and each group
version's resources, as kubectl does; the discovery bodies have kube-apiserver's shapes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as kube
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

from fedstate.api import CONFIGMAP, MULTICLOUD_MONGODB

Manifest = Callable[..., dict[str, Any]]


def dynamic_client(served: httpx.AsyncClient, cache: Path) -> DynamicClient:
    configuration = kube.Configuration()
    configuration.host = str(served.base_url).rstrip("/")
    configuration.api_key = {"authorization": served.headers["Authorization"]}  # "Bearer <token>", as kubeconfig's
    return DynamicClient(kube.ApiClient(configuration), cache_file=str(cache))


async def test_discovery_has_kube_apiservers_shapes(served: httpx.AsyncClient) -> None:
    groups = (await served.get("/apis")).json()
    assert ("APIGroupList", "v1") == (groups["kind"], groups["apiVersion"])
    version = {"groupVersion": MULTICLOUD_MONGODB.api_version, "version": "v1alpha1"}
    assert [{"name": "middleware.fedstate.io", "versions": [version], "preferredVersion": version}] == groups["groups"]
    one = (await served.get("/apis/middleware.fedstate.io")).json()
    assert ("APIGroup", "middleware.fedstate.io") == (one["kind"], one["name"])
    resources = (await served.get(f"/apis/{MULTICLOUD_MONGODB.api_version}")).json()
    assert ("APIResourceList", MULTICLOUD_MONGODB.api_version) == (resources["kind"], resources["groupVersion"])
    mcm = next(r for r in resources["resources"] if r["kind"] == "MultiCloudMongoDB")
    assert {
        "name": "multicloudmongodbs",
        "singularName": "multicloudmongodb",
        "namespaced": True,
        "kind": "MultiCloudMongoDB",
        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        "shortNames": ["mcm"],
    } == mcm
    assert {"kind": "APIVersions", "versions": ["v1"]}.items() <= (await served.get("/api")).json().items()
    core = (await served.get("/api/v1")).json()
    assert ["configmaps"] == [r["name"] for r in core["resources"]]
    missing = await served.get("/apis/apps/v1")
    assert (404, "Status") == (missing.status_code, missing.json()["kind"])


async def test_version_reads_as_kubernetes_version_info(served: httpx.AsyncClient) -> None:
    info = (await served.get("/version")).json()
    assert info["gitVersion"] == f"v{info['version']}"
    assert (info["major"], info["minor"]) == tuple(info["version"].split(".")[:2])


async def test_answers_carry_the_date_as_kube_apiserver_s_do(served: httpx.AsyncClient) -> None:
    """The gateway's server refreshes its Date header once a second, not ten times (an idle gateway's wakeups)."""
    answered = parsedate_to_datetime((await served.get("/version")).headers["date"])
    assert abs((datetime.now(UTC) - answered).total_seconds()) < 60  # present and current


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "discovery.json"


async def test_the_official_dynamic_client_lists_gets_and_watches(
    served: httpx.AsyncClient, cache: Path, mcm_body: Manifest
) -> None:
    assert (await served.put(MULTICLOUD_MONGODB.item_path("default", "k8s"), json=mcm_body("k8s"))).is_success

    def read() -> tuple[list[str], int, str, str]:
        dynamic = dynamic_client(served, cache)
        mcms = dynamic.resources.get(api_version=MULTICLOUD_MONGODB.api_version, kind="MultiCloudMongoDB")
        listed = mcms.get(namespace="default")
        got = mcms.get(namespace="default", name="k8s")
        configmaps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
        try:
            configmaps.get(namespace="default", name="absent")
        except NotFoundError:
            absent = "NotFound"
        shorthand = dynamic.resources.get(short_names=["mcm"]).kind
        names = [item.metadata.name for item in listed.items]
        return names, got.spec.replicaset, absent, shorthand

    assert (["k8s"], 3, "NotFound", "MultiCloudMongoDB") == await asyncio.to_thread(read)
    listed = (await served.get(MULTICLOUD_MONGODB.collection_path("default"))).json()

    def first_change() -> tuple[str, str, int]:
        mcms = dynamic_client(served, cache).resources.get(
            api_version=MULTICLOUD_MONGODB.api_version, kind="MultiCloudMongoDB"
        )
        for event in mcms.watch(namespace="default", resource_version=listed["metadata"]["resourceVersion"]):
            return event["type"], event["object"].metadata.name, event["object"].spec.replicaset
        raise AssertionError("the watch ended without an event")

    watching = asyncio.create_task(asyncio.to_thread(first_change))
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "noise"}, "data": {}}
    assert (await served.put(CONFIGMAP.item_path("default", "noise"), json=configmap)).is_success
    assert (
        await served.put(MULTICLOUD_MONGODB.item_path("default", "k8s"), json=mcm_body("k8s", replicaset=5))
    ).is_success
    assert ("MODIFIED", "k8s", 5) == await watching
