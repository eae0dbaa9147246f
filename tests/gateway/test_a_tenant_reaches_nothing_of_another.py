"""Tenants (issue 10, item 6): a token's tenant is the only one it reaches. Another tenant's objects are not
read, listed, watched, written over, deleted or seen in events; naming another tenant is a 403 for all but an
admin."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedstate.api import MULTICLOUD_MONGODB
from fedstate.bus import events
from fedstate.bus.connection import Bus
from fedstate.bus.envelope import InvalidValue, Unreadable
from fedstate.bus.names import Bucket, InstanceKey, Kind
from fedstate.tokens import Role
from tests.gateway.conftest import bearer

Manifest = Callable[..., dict[str, Any]]
LIST = MULTICLOUD_MONGODB.collection_path("default")


def item(name: str) -> str:
    return MULTICLOUD_MONGODB.item_path("default", name)


@pytest.fixture
def other() -> str:
    return f"o{uuid.uuid4().hex[:8]}"


@pytest.fixture
def theirs(tokens_file: Path, other: str) -> dict[str, str]:
    """An editor of the other tenant."""
    return bearer(tokens_file, other, Role.EDITOR, "other-editor")


def names(listed: httpx.Response) -> list[str]:
    return [o["metadata"]["name"] for o in listed.json()["items"]]


async def test_reads_and_lists_show_only_the_token_s_tenant(
    api: httpx.AsyncClient, theirs: dict[str, str], mcm_body: Manifest
) -> None:
    assert (await api.put(item("mine"), json=mcm_body("mine"))).status_code == 201
    assert (await api.put(item("theirs"), json=mcm_body("theirs"), headers=theirs)).status_code == 201
    assert (await api.get(item("theirs"))).status_code == 404
    assert (await api.get(item("mine"), headers=theirs)).status_code == 404
    assert (await api.get(f"{item('mine')}/placement", headers=theirs)).status_code == 404
    assert names(await api.get(LIST)) == ["mine"]
    assert names(await api.get(MULTICLOUD_MONGODB.all_namespaces_path(), headers=theirs)) == ["theirs"]


async def test_writes_of_one_tenant_never_touch_another_s_objects(
    api: httpx.AsyncClient, theirs: dict[str, str], mcm_body: Manifest
) -> None:
    assert (await api.put(item("same"), json=mcm_body("same", replicaset=3))).status_code == 201
    # The same name in the other tenant is another object: created there, ours unchanged.
    assert (await api.put(item("same"), json=mcm_body("same", replicaset=5), headers=theirs)).status_code == 201
    patch = {**theirs, "Content-Type": "application/merge-patch+json"}
    assert (await api.patch(item("same"), json={"spec": {"replicaset": 7}}, headers=patch)).is_success
    assert (await api.delete(item("same"), headers=theirs)).is_success
    ours = (await api.get(item("same"))).json()
    assert ours["spec"]["replicaset"] == 3
    assert "deletionTimestamp" not in ours["metadata"]
    assert (await api.delete(item("only-ours-never-theirs"), headers=theirs)).status_code == 404


async def test_naming_another_tenant_is_forbidden_except_to_an_admin(
    api: httpx.AsyncClient, tokens_file: Path, tenant: str, other: str, theirs: dict[str, str], mcm_body: Manifest
) -> None:
    assert (await api.put(item("mine"), json=mcm_body("mine"))).status_code == 201
    reaching = {**theirs, "Fedstate-Tenant": tenant}
    forbidden = await api.get(item("mine"), headers=reaching)
    assert (forbidden.status_code, forbidden.json()["reason"]) == (403, "Forbidden")
    assert (await api.put(item("planted"), json=mcm_body("planted"), headers=reaching)).status_code == 403
    assert (await api.get(item("planted"))).status_code == 404
    # The fixtures' token is an admin's: it reaches the other tenant when it names it.
    assert (await api.get(LIST, headers={"Fedstate-Tenant": other})).json()["items"] == []
    assert (await api.get(LIST, headers={"Fedstate-Tenant": "*"})).status_code == 400


async def test_a_watch_streams_only_the_token_s_tenant(
    served: httpx.AsyncClient, theirs: dict[str, str], mcm_body: Manifest
) -> None:
    assert (await served.put(item("before"), json=mcm_body("before"), headers=theirs)).is_success
    assert (await served.put(item("mine-before"), json=mcm_body("mine-before"))).is_success
    seen: list[str] = []
    params = {"watch": "true", "timeoutSeconds": "30"}
    async with served.stream("GET", "/watch", params={**params, "resources": "mcm"}, headers=theirs) as stream:
        lines = stream.aiter_lines()
        await served.put(item("mine-during"), json=mcm_body("mine-during"))
        await served.put(item("during"), json=mcm_body("during"), headers=theirs)
        while "during" not in seen:
            line = await asyncio.wait_for(anext(lines), 30)
            if line:
                seen.append(json.loads(line)["object"]["metadata"]["name"])
    assert seen == ["before", "during"]


async def test_events_show_only_the_token_s_tenant(
    api: httpx.AsyncClient, bus: Bus, tenant: str, other: str, theirs: dict[str, str]
) -> None:
    for owner, reason in ((tenant, "Ours"), (other, "Theirs")):
        key = InstanceKey(owner, "default", Kind.MULTICLOUD_MONGODB, "evented")
        await events.emit(bus.js, key, reason=reason, message="m", component="test")
    assert [e["reason"] for e in (await api.get("/events", params={"namespace": "default"})).json()["items"]] == [
        "Ours"
    ]
    assert "Ours" not in [e["reason"] for e in (await api.get("/events", headers=theirs)).json()["items"]]
    assert "Theirs" in [e["reason"] for e in (await api.get("/events", headers=theirs)).json()["items"]]
    named = await api.get("/events", params={"name": "evented"}, headers=theirs)
    assert [e["reason"] for e in named.json()["items"]] == ["Theirs"]


async def test_the_bus_s_own_events_show_only_to_an_admin_over_every_namespace(
    api: httpx.AsyncClient, bus: Bus, theirs: dict[str, str]
) -> None:
    key = f"t.default.multicloudmongodb.bad{uuid.uuid4().hex[:6]}"
    unreadable = InvalidValue(Unreadable.NOT_JSON, "not JSON: Expecting value")
    await bus.dead_letters.keep(str(Bucket.SPEC), key, 1, b"{", unreadable)

    def dead_letters(listed: httpx.Response) -> list[str]:
        return [e["message"] for e in listed.json()["items"] if e["reason"] == "DeadLetter" and key in e["message"]]

    assert 1 == len(dead_letters(await api.get("/events")))
    assert [] == dead_letters(await api.get("/events", params={"namespace": "default"}))
    assert [] == dead_letters(await api.get("/events", headers=theirs))
