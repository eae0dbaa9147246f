"""Member clusters on a watch (for a page that follows them with the objects, over one connection): each as a
``MemberCluster`` whose status is the view ``GET /clusters`` gives, then each change; a cluster whose heartbeats
stop is sent Unreachable when the failure threshold passes, though nothing was written."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from fedstate.api import MULTICLOUD_MONGODB
from fedstate.bus.connection import Bus
from fedstate.bus.names import LeaseHolder, lease_key
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.lease import Lease
from fedstate_gateway.settings import GatewaySettings


@pytest.fixture
def served_settings(settings: GatewaySettings) -> GatewaySettings:
    """A cluster is Unreachable one second after its last heartbeat."""
    return settings.model_copy(update={"failure_threshold_seconds": 1})


@pytest.fixture
async def cluster(bus: Bus) -> AsyncIterator[str]:
    name = f"watched-{uuid.uuid4().hex[:6]}"
    yield name
    await bus.clusters.delete(name)
    await bus.leases.delete(lease_key(LeaseHolder.COLLECTOR, name))


async def events_of(response: httpx.Response, name: str) -> AsyncIterator[dict[str, Any]]:
    """The events about one cluster (the bucket is every test's)."""
    async for line in response.aiter_lines():
        event = json.loads(line)
        if event["object"].get("kind") == "MemberCluster" and event["object"]["metadata"]["name"] == name:
            yield event


def health(event: dict[str, Any]) -> tuple[str, str]:
    return event["type"], event["object"]["status"]["health"]


async def test_a_cluster_is_sent_as_it_changes_and_when_its_heartbeats_stop(
    served: httpx.AsyncClient, bus: Bus, cluster: str
) -> None:
    await bus.clusters.put(cluster, ClusterSnapshot(name=cluster, vip="127.0.9.9", observed_at=datetime.now(UTC)))
    async with served.stream("GET", "/clusters", params={"watch": "true"}) as response:
        events = events_of(response, cluster)
        first = await anext(events)
        assert ("ADDED", "fedstate.io/v1") == (first["type"], first["object"]["apiVersion"])
        assert "127.0.9.9" == first["object"]["status"]["vip"]
        if health(first) == ("ADDED", "Ready"):  # on a slow machine the second may be gone already
            assert ("MODIFIED", "Unreachable") == health(await anext(events))
        renewed = Lease(holder=cluster, component="collector", renewed_at=datetime.now(UTC), renew_every_seconds=1)
        await bus.leases.put(lease_key(LeaseHolder.COLLECTOR, cluster), renewed)
        assert ("MODIFIED", "Ready") == health(await anext(events))
        assert ("MODIFIED", "Unreachable") == health(await anext(events))  # no renewal: the threshold passes


async def test_one_connection_follows_objects_and_clusters(served: httpx.AsyncClient, bus: Bus, cluster: str) -> None:
    params = {"watch": "true", "resources": "mcm,clusters"}
    async with served.stream("GET", "/watch", params=params) as response:
        lines = response.aiter_lines()
        await bus.clusters.put(cluster, ClusterSnapshot(name=cluster, vip="127.0.9.8", observed_at=datetime.now(UTC)))
        body = {"apiVersion": MULTICLOUD_MONGODB.api_version, "kind": "MultiCloudMongoDB", "metadata": {"name": "m"}}
        body["spec"] = {"replicaset": 3}
        assert (await served.put(MULTICLOUD_MONGODB.item_path("default", "m"), json=body)).is_success
        kinds: set[str] = set()
        while kinds != {"MemberCluster", "MultiCloudMongoDB"}:
            obj = json.loads(await anext(lines))["object"]
            if obj["kind"] == "MultiCloudMongoDB" or obj["metadata"]["name"] == cluster:
                kinds.add(obj["kind"])


async def test_an_unknown_kind_is_400(served: httpx.AsyncClient) -> None:
    response = await served.get("/watch", params={"watch": "true", "resources": "mcm,nodes"})
    assert (400, "Status") == (response.status_code, response.json()["kind"])
