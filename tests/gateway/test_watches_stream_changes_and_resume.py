"""``?watch=true`` on a list path streams its changes as kube-apiserver does (issue 15, item 2): ADDED, MODIFIED
(status included), DELETED; resumable from a list's or an event's resourceVersion, with nothing missed and
nothing repeated; BOOKMARKs while nothing changes; 410 Expired when the position cannot be replayed; the same
events as server-sent events; selectors that an object enters and leaves; several kinds on one connection."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from fedstate.api import CONFIGMAP, MONGODB, MULTICLOUD_MONGODB
from fedstate.bus.connection import Bus
from fedstate.bus.names import Bucket, InstanceKey, Kind, kv_stream
from fedstate.bus.objects import LocalObject, StatusRecord
from fedstate.models.mongodb import DataPlaneState, MongoDBStatus
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus
from fedstate_gateway.settings import GatewaySettings

Manifest = Callable[..., dict[str, Any]]
Events = AsyncIterator[dict[str, Any]]
LIST = MULTICLOUD_MONGODB.collection_path("default")
CREATED = "$JS.EVENT.ADVISORY.CONSUMER.CREATED.>"


@asynccontextmanager
async def watching(client: httpx.AsyncClient, path: str = LIST, **params: str) -> AsyncIterator[Events]:
    """The events of one watch, each parsed from its line."""
    async with client.stream("GET", path, params={"watch": "true", **params}) as response:
        assert 200 == response.status_code
        assert response.headers["content-type"].startswith("application/json")
        yield (json.loads(line) async for line in response.aiter_lines() if line)


def seen(event: dict[str, Any]) -> tuple[str, str, int | None]:
    """type, name and spec.replicaset: what tells two events apart in these tests."""
    obj = event["object"]
    return event["type"], obj["metadata"].get("name", ""), (obj.get("spec") or {}).get("replicaset")


async def put(client: httpx.AsyncClient, name: str, body: dict[str, Any]) -> None:
    assert (await client.put(MULTICLOUD_MONGODB.item_path("default", name), json=body)).is_success


async def set_state(bus: Bus, tenant: str, name: str, state: InstanceState) -> None:
    key = InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    status = StatusRecord(kind="MultiCloudMongoDB", multicloud=MultiCloudMongoDBStatus(state=state))
    await bus.status.put(key.status_key, status)


async def remove(bus: Bus, tenant: str, name: str) -> None:
    """What the federation does once every member is gone: the object leaves fs-spec."""
    await bus.spec.delete(InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, name).spec_key)


async def test_a_watch_from_a_list_sees_every_change_in_order(
    served: httpx.AsyncClient, bus: Bus, tenant: str, mcm_body: Manifest
) -> None:
    await put(served, "before", mcm_body("before"))
    listed = (await served.get(LIST)).json()
    assert ["before"] == [i["metadata"]["name"] for i in listed["items"]]
    async with watching(served, resourceVersion=listed["metadata"]["resourceVersion"]) as events:
        await put(served, "rs1", mcm_body("rs1"))
        assert ("ADDED", "rs1", 3) == seen(await anext(events))
        await put(served, "rs1", mcm_body("rs1", replicaset=5))
        assert ("MODIFIED", "rs1", 5) == seen(await anext(events))
        await set_state(bus, tenant, "rs1", InstanceState.HEALTH)
        modified = await anext(events)
        assert ("MODIFIED", "Health") == (modified["type"], modified["object"]["status"]["state"])
        await remove(bus, tenant, "rs1")
        assert ("DELETED", "rs1", 5) == seen(await anext(events))


async def test_a_watch_without_a_version_starts_with_every_object(
    served: httpx.AsyncClient, mcm_body: Manifest
) -> None:
    for name in ("a", "b"):
        await put(served, name, mcm_body(name))
    async with watching(served) as events:
        assert {("ADDED", "a", 3), ("ADDED", "b", 3)} == {seen(await anext(events)), seen(await anext(events))}
        await put(served, "a", mcm_body("a", replicaset=5))
        assert ("MODIFIED", "a", 5) == seen(await anext(events))


async def test_resuming_after_an_event_replays_exactly_what_came_after_it(
    served: httpx.AsyncClient, bus: Bus, tenant: str, mcm_body: Manifest
) -> None:
    start = (await served.get(LIST)).json()["metadata"]["resourceVersion"]
    async with watching(served, resourceVersion=start) as events:
        await put(served, "r", mcm_body("r"))
        first = await anext(events)
    await put(served, "r", mcm_body("r", replicaset=5))
    await set_state(bus, tenant, "r", InstanceState.CREATING)
    await put(served, "other", mcm_body("other"))
    async with watching(served, resourceVersion=first["object"]["metadata"]["resourceVersion"]) as events:
        replayed = [await anext(events) for _ in range(3)]
    assert [("MODIFIED", "r", 5), ("MODIFIED", "r", 5), ("ADDED", "other", 3)] == [seen(e) for e in replayed]
    assert "Creating" == replayed[1]["object"]["status"]["state"]


@pytest.fixture
def served_settings(settings: GatewaySettings) -> GatewaySettings:
    """Every test here: a history of three changes (so one can outlive it) and a bookmark every 0.2 s."""
    return settings.model_copy(update={"watch_history": 3, "watch_bookmark_seconds": 0.2})


async def test_a_position_older_than_the_history_is_410_expired(served: httpx.AsyncClient, mcm_body: Manifest) -> None:
    old = (await served.get(LIST)).json()["metadata"]["resourceVersion"]
    for replicas in (3, 5, 7, 9):
        await put(served, "busy", mcm_body("busy", replicaset=replicas))
    for version in (old, "12"):  # a position dropped from the history; an object's own version
        async with watching(served, resourceVersion=version) as events:
            error = await anext(events)
            assert ("ERROR", 410, "Expired") == (error["type"], error["object"]["code"], error["object"]["reason"])
            assert "Status" == error["object"]["kind"]
            assert [] == [e async for e in events]  # and the stream ends
    garbage = await served.get(LIST, params={"watch": "true", "resourceVersion": "yesterday"})
    assert (400, "Status") == (garbage.status_code, garbage.json()["kind"])


async def test_bookmarks_carry_a_position_to_resume_from(served: httpx.AsyncClient, mcm_body: Manifest) -> None:
    async with watching(served, allowWatchBookmarks="true") as events:
        await put(served, "marked", mcm_body("marked"))
        # A PUT slower than the bookmark period lets a bookmark come first, at a position before the object.
        first = await anext(e async for e in events if e["type"] != "BOOKMARK")
        assert "ADDED" == first["type"]
        bookmark = await anext(events)
    assert ("BOOKMARK", "MultiCloudMongoDB") == (bookmark["type"], bookmark["object"]["kind"])
    await put(served, "marked", mcm_body("marked", replicaset=5))
    async with watching(served, resourceVersion=bookmark["object"]["metadata"]["resourceVersion"]) as events:
        assert ("MODIFIED", "marked", 5) == seen(await anext(events))


async def test_server_sent_events_carry_the_position_as_their_id(served: httpx.AsyncClient, mcm_body: Manifest) -> None:
    headers = {"Accept": "text/event-stream"}
    async with served.stream("GET", LIST, params={"watch": "true"}, headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        await put(served, "sse", mcm_body("sse"))
        identifier, data = await anext(lines), await anext(lines)
    assert identifier.startswith("id: ") and data.startswith("data: ")
    event = json.loads(data.removeprefix("data: "))
    assert ("ADDED", "sse", 3) == seen(event)
    assert identifier.removeprefix("id: ") == event["object"]["metadata"]["resourceVersion"]
    await put(served, "sse", mcm_body("sse", replicaset=5))
    resumed = {**headers, "Last-Event-ID": identifier.removeprefix("id: ")}  # what EventSource sends again
    async with served.stream("GET", LIST, params={"watch": "true"}, headers=resumed) as response:
        lines = response.aiter_lines()
        await anext(lines)
        assert ("MODIFIED", "sse", 5) == seen(json.loads((await anext(lines)).removeprefix("data: ")))


async def test_an_object_entering_and_leaving_a_selection_is_added_and_deleted(
    served: httpx.AsyncClient, bus: Bus, tenant: str, mcm_body: Manifest
) -> None:
    labelled = {**mcm_body("lab"), "metadata": {"name": "lab", "labels": {"tier": "db"}}}
    async with watching(served, labelSelector="tier=db", fieldSelector="status.state!=Health") as events:
        await put(served, "plain", mcm_body("plain"))
        await put(served, "lab", labelled)
        assert ("ADDED", "lab", 3) == seen(await anext(events))  # "plain" is not selected
        await set_state(bus, tenant, "lab", InstanceState.HEALTH)
        assert ("DELETED", "lab", 3) == seen(await anext(events))
        await set_state(bus, tenant, "lab", InstanceState.SUB_HEALTH)
        assert ("ADDED", "lab", 3) == seen(await anext(events))


async def test_one_connection_follows_several_kinds(served: httpx.AsyncClient, mcm_body: Manifest) -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}, "data": {"a": "1"}}
    async with watching(served, "/watch", resources="mcm,configmaps", namespace="default") as events:
        await put(served, "multi", mcm_body("multi"))
        assert (await served.put(CONFIGMAP.item_path("default", "conf"), json=configmap)).is_success
        kinds = [(e["type"], e["object"]["kind"]) for e in (await anext(events), await anext(events))]
    assert [("ADDED", "MultiCloudMongoDB"), ("ADDED", "ConfigMap")] == kinds


def replaced(stream: str) -> float:
    """Consumers of ``stream`` this process created again (a gap or missed heartbeats on a loaded machine)."""
    return REGISTRY.get_sample_value("fedstate_bus_consumers_replaced_total", {"stream": stream}) or 0.0


async def test_watchers_create_no_consumer(served: httpx.AsyncClient, bus: Bus, mcm_body: Manifest) -> None:
    """However many watches are open, the gateway reads each bucket through the one watch of its cache.

    A cache's consumer replaced meanwhile (the machine stalled past two heartbeats) is a new consumer that no
    watcher caused: each replacement allows one."""
    assert (await served.get(LIST)).is_success  # the caches are started
    counted: Counter[str] = Counter()

    async def count(msg: Any) -> None:
        counted[msg.subject.split(".")[5]] += 1

    subscription = await bus.nc.subscribe(CREATED, cb=count)
    await bus.nc.flush()
    streams = [kv_stream(b) for b in Bucket]
    before = {s: ((await bus.js.stream_info(s)).state.consumer_count, replaced(s)) for s in streams}
    async with AsyncExitStack() as stack:
        watches = [await stack.enter_async_context(watching(served)) for _ in range(20)]
        await stack.enter_async_context(watching(served, labelSelector="tier=none"))
        await put(served, "many", mcm_body("many"))
        assert {("ADDED", "many", 3)} == {seen(await anext(w)) for w in watches}
        await bus.nc.flush()
        for stream, (consumers, replaced_before) in before.items():
            allowed = replaced(stream) - replaced_before
            assert counted[stream] <= allowed, stream
            assert (await bus.js.stream_info(stream)).state.consumer_count <= consumers + allowed, stream
    await subscription.unsubscribe()


async def test_an_object_from_a_watch_event_can_be_written_back_until_its_spec_changes(
    served: httpx.AsyncClient, bus: Bus, tenant: str, mcm_body: Manifest
) -> None:
    """Its resourceVersion is a position: a write holds while the spec is unchanged since (a status is no
    conflict), as a kubectl edit of what a watch showed."""
    async with watching(served) as events:
        await put(served, "edited", mcm_body("edited"))
        shown = (await anext(events))["object"]
    await set_state(bus, tenant, "edited", InstanceState.HEALTH)
    path = MULTICLOUD_MONGODB.item_path("default", "edited")
    assert 200 == (await served.put(path, json={**shown, "spec": {**shown["spec"], "replicaset": 5}})).status_code
    stale = await served.put(path, json={**shown, "spec": {**shown["spec"], "replicaset": 7}})
    assert (409, "Conflict") == (stale.status_code, stale.json()["reason"])
    assert 5 == (await served.get(path)).json()["spec"]["replicaset"]


async def open_watches(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith("fedstate_gateway_watches "))


async def test_a_client_that_leaves_frees_its_watch(served: httpx.AsyncClient) -> None:
    """The gateway's /metrics counts open watches; one whose client went away is gone without any change."""
    before = await open_watches(served)
    async with AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(watching(served))
        assert before + 3 == await open_watches(served)
    while await open_watches(served) != before:  # noqa: ASYNC110 - a metric to read, no event to await
        await asyncio.sleep(0.05)


async def test_a_custom_resource_of_a_member_cluster_is_watched_with_the_mongodbs(
    served: httpx.AsyncClient, bus: Bus, tenant: str
) -> None:
    """A ``MongoDB`` created on a member cluster's own API (its agent mirrors it) comes, changes and goes on a
    watch of ``mongodbs`` as one applied through fedstate does, with its cluster and source."""
    key = InstanceKey(tenant, "default", Kind.MONGODB, "local").local_object_key("member-2")

    async def mirror(state: DataPlaneState) -> None:
        found = {"apiVersion": MONGODB.api_version, "kind": "MongoDB", "metadata": {"name": "local"}}
        found["metadata"]["namespace"], found["spec"] = "default", {"members": 1}
        await bus.local.put(key, LocalObject.of_custom_resource(found, tenant, "member-2", MongoDBStatus(state=state)))

    async with watching(served, MONGODB.collection_path("default")) as events:
        await mirror(DataPlaneState.RECONCILING)
        added = await anext(events)
        annotations = added["object"]["metadata"]["annotations"]
        assert ("member-2", "custom-resource") == (
            annotations["fedstate.io/cluster"],
            annotations["fedstate.io/source"],
        )
        await mirror(DataPlaneState.RUNNING)
        modified = await anext(events)
        assert ("MODIFIED", "Running") == (modified["type"], modified["object"]["status"]["state"])
        await bus.local.delete(key)
        assert "DELETED" == (await anext(events))["type"]
