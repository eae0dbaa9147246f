"""A delete on the bus names its kind by any name ``fedstate`` accepts: kind, plural or short name."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from fedstate.api.resources import RESOURCES, Resource
from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey, intake_subject
from tests.conftest import register_clusters

NAMES = [(resource, name) for resource in RESOURCES for name in (resource.kind, *resource.names)]


async def ask(bus: Bus, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await bus.nc.request(intake_subject(tenant), json.dumps(body).encode(), timeout=5)
    return dict(json.loads(reply.data))


def manifest(resource: Resource, name: str) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": {"name": name}}
    return {**body, "data": {"k": "v"}} if resource.kind == "ConfigMap" else {**body, "spec": {}}


@pytest.mark.parametrize(("resource", "kind_name"), NAMES, ids=[name for _, name in NAMES])
async def test_delete_by_any_kind_name(bus: Bus, intake: None, resource: Resource, kind_name: str) -> None:
    """``{"op": "delete", "kind": "mcm", ...}`` deletes (or starts deleting) the MultiCloudMongoDB, and so on."""
    tenant, name = f"k{uuid.uuid4().hex[:8]}", f"obj-{uuid.uuid4().hex[:6]}"
    await register_clusters(bus)  # a MongoDB's targetCluster must exist: intake refuses unknown clusters
    target = {"targetCluster": "member-1"} if resource.cluster_scoped_target else {}
    assert (await ask(bus, tenant, {"op": "apply", "object": manifest(resource, name), **target}))["ok"]
    reply = await ask(bus, tenant, {"op": "delete", "kind": kind_name, "namespace": "default", "name": name})
    assert reply["ok"], reply
    stored = await bus.spec.get(InstanceKey(tenant, "default", resource.bus_kind, name).spec_key)
    assert stored is None or stored.value.deleting


async def test_an_unknown_kind_name_is_refused_by_field(bus: Bus, intake: None) -> None:
    """A kind no resource answers to is a 400 naming ``kind`` and listing the names that work."""
    reply = await ask(bus, "default", {"op": "delete", "kind": "mcmx", "name": "anything"})
    error = reply["error"]
    assert (400, ["kind"]) == (error["code"], [cause["field"] for cause in error["causes"]])
    assert "'mcmx' is none of MultiCloudMongoDB, multicloudmongodb, multicloudmongodbs, mcm" in error["message"]
