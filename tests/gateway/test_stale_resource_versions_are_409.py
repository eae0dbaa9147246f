"""A write that carries ``metadata.resourceVersion`` applies only over that version (kubectl's 409 Conflict)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from fedstate.api import MULTICLOUD_MONGODB

Manifest = Callable[..., dict[str, Any]]


def with_version(body: dict[str, Any], version: str) -> dict[str, Any]:
    return {**body, "metadata": {**body["metadata"], "resourceVersion": version}}


async def test_a_write_answers_the_version_a_read_then_shows(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    path = MULTICLOUD_MONGODB.item_path("default", "rv")
    written = await api.put(path, json=mcm_body("rv"))
    read = await api.get(path)
    assert written.json()["metadata"]["resourceVersion"] == read.json()["metadata"]["resourceVersion"]


async def test_the_current_version_applies_and_a_stale_one_is_409(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    path = MULTICLOUD_MONGODB.item_path("default", "rv")
    first = (await api.put(path, json=mcm_body("rv"))).json()["metadata"]["resourceVersion"]
    second = await api.put(path, json=with_version(mcm_body("rv", replicaset=5), first))
    assert 200 == second.status_code
    current = second.json()["metadata"]["resourceVersion"]
    stale = await api.put(path, json=with_version(mcm_body("rv", replicaset=7), first))
    assert 409 == stale.status_code
    status = stale.json()
    assert ("Status", "Conflict") == (status["kind"], status["reason"])
    assert f"metadata.resourceVersion is {first}, the current version is {current}" in status["message"]
    assert [{"field": "metadata.resourceVersion", "message": f"is {first}, the current version is {current}"}] == [
        {k: c[k] for k in ("field", "message")} for c in status["details"]["causes"]
    ]
    assert 5 == (await api.get(path)).json()["spec"]["replicaset"]


async def test_without_a_version_the_write_applies(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    path = MULTICLOUD_MONGODB.item_path("default", "rv")
    await api.put(path, json=mcm_body("rv"))
    await api.put(path, json=mcm_body("rv", replicaset=5))
    assert 200 == (await api.put(path, json=mcm_body("rv", replicaset=7))).status_code


async def test_a_version_for_an_object_that_does_not_exist_is_409(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    response = await api.put(MULTICLOUD_MONGODB.item_path("default", "gone"), json=with_version(mcm_body("gone"), "4"))
    assert (409, "Conflict") == (response.status_code, response.json()["reason"])
    assert "metadata.resourceVersion is 4 but no such object exists" in response.json()["message"]
    assert 404 == (await api.get(MULTICLOUD_MONGODB.item_path("default", "gone"))).status_code
