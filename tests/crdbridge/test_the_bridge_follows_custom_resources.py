# The official client types its methods as taking models, while it accepts plain dict bodies at runtime.
# mypy: disable-error-code="arg-type"
"""The crd-bridge against a simulated control-plane cluster and a real, secured nats-server with the federation's
intake: a custom resource is submitted once per generation, its status comes back from fs-status in the seed's
shape, a refused one says why (condition and Event) with nothing on the bus, deletion waits for the federation,
and a restarted bridge submits nothing already held."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes.aio import client

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.bus import intake
from fedstate.bus.intake import IntakeRequest
from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import StatusRecord
from fedstate.models.base import Condition
from fedstate.models.multicloud import ClusterResult, InstanceState, MultiCloudMongoDBStatus
from fedstate_crdbridge.bridged import FINALIZER, GENERATION_ANNOTATION
from fedstate_crdbridge.customresources import CustomResources
from tests.conftest import SecuredNats
from tests.sim.kube_support import eventually

from .bridge_support import CONTEXT, GROUP, VERSION, Bridged, control_plane, sample

MCM = "multicloudmongodbs"
KEY = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, "multicloudmongodb-sample")


@pytest.fixture
async def plane(secured_nats: SecuredNats, tmp_path: Path) -> AsyncIterator[Bridged]:
    async with control_plane(secured_nats, tmp_path) as bridged:
        yield bridged


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def healthy(stored_generation: int) -> StatusRecord:
    """What the federation writes once the seed sample runs: its 2+2+1 layout, Health."""
    results = [
        ClusterResult(applied=True, cluster="member-1", connect_addr_with_role={"127.0.1.1:30001": "PRIMARY"},
                      replicaset_spec=2, replicaset_status=2, state="Running"),
        ClusterResult(applied=True, cluster="member-2", connect_addr_with_role={"127.0.2.1:30001": "SECONDARY"},
                      replicaset_spec=2, replicaset_status=2, state="Running"),
    ]  # fmt: skip
    status = MultiCloudMongoDBStatus(
        conditions=[Condition(type="ServerReady", status="True", reason="ServerReady", message="ready",
                              last_transition_time=datetime(2026, 1, 1, tzinfo=UTC))],
        external_addr="127.0.1.1:30001,127.0.2.1:30001",
        result=results,
        state=InstanceState.HEALTH,
        observed_generation=stored_generation,
    )  # fmt: skip
    return StatusRecord(kind="MultiCloudMongoDB", multicloud=status)


@pytest.mark.timeout(120)
async def test_a_custom_resource_is_submitted_once_per_generation_and_shows_the_federations_status(
    plane: Bridged,
) -> None:
    async with plane.bridge():
        await plane.custom.create_namespaced_custom_object(GROUP, VERSION, "default", MCM, sample())
        synced = await plane.until(MCM, KEY.name, lambda o: condition(o, "Synced").get("status") == "True")
        assert FINALIZER in synced["metadata"]["finalizers"] and 1 == synced["status"]["observedGeneration"]
        stored = await plane.admin.spec.get(KEY.spec_key)
        assert stored is not None and "1" == stored.value.metadata.annotations[GENERATION_ANNOTATION]
        assert 5 == stored.value.spec["replicaset"]
        # The federation reports it healthy: the custom resource shows the seed's status shape.
        await plane.admin.status.put(KEY.status_key, healthy(stored.value.metadata.generation))
        shown = await plane.until(MCM, KEY.name, lambda o: o["status"].get("state") == "Health")
        status = shown["status"]
        assert {"conditions", "externalAddr", "result", "state", "observedGeneration", "primary"} <= set(status)
        assert "127.0.1.1:30001@member-1" == status["primary"]
        assert {"ServerReady", "Synced", "Ready"} <= {c["type"] for c in status["conditions"]}
        assert "True" == condition(shown, "Ready")["status"]
        assert {"127.0.1.1:30001": "PRIMARY"} == status["result"][0]["connectAddrWithRole"]
        # An edit of replicaset is a new generation: submitted once, and the status says which it is.
        edited = {**shown, "spec": {**shown["spec"], "replicaset": 3}}
        await plane.custom.replace_namespaced_custom_object(GROUP, VERSION, "default", MCM, KEY.name, edited)
        await plane.until(MCM, KEY.name, lambda o: o["status"]["observedGeneration"] == 2)
        stored = await plane.admin.spec.get(KEY.spec_key)
        assert stored is not None and 3 == stored.value.spec["replicaset"]
        # Ready waits for the federation to catch up with the new generation.
        assert "False" == condition(await plane.get(MCM, KEY.name) or {}, "Ready").get("status")
    applies = len([r for r in plane.requests if r["op"] == "apply"])
    assert 2 == applies
    # A restarted bridge lists everything again and submits nothing the federation already holds.
    async with plane.bridge():
        await plane.admin.status.put(KEY.status_key, healthy(2))
        await plane.until(MCM, KEY.name, lambda o: condition(o, "Ready").get("status") == "True")
    assert applies == len([r for r in plane.requests if r["op"] == "apply"])


@pytest.mark.timeout(120)
async def test_an_invalid_custom_resource_says_why_and_nothing_reaches_the_bus(plane: Bridged) -> None:
    bad = sample()
    bad["metadata"]["name"] = "bad"
    bad["spec"]["replicaset"] = 2
    bad["spec"]["storage"]["storageSize"] = "lots"
    bad["spec"]["bogus"] = True
    async with plane.bridge():
        await plane.custom.create_namespaced_custom_object(GROUP, VERSION, "default", MCM, bad)
        refused = await plane.until("multicloudmongodbs", "bad", lambda o: condition(o, "Synced").get("status"))
        synced = condition(refused, "Synced")
        assert ("False", "Invalid") == (synced["status"], synced["reason"])
        assert "spec.storage.storageSize" in synced["message"] and "spec.bogus" in synced["message"]
        assert 1 == refused["status"]["observedGeneration"]

        async def warned() -> list[Any]:
            events = await client.CoreV1Api(plane.api).list_namespaced_event("default")
            return [e for e in events.items if e.involved_object.name == "bad" and e.reason == "Invalid"]

        [event] = await eventually(warned)
        assert "Warning" == event.type and "spec.bogus" in event.message
    assert [] == plane.requests
    assert (
        await plane.admin.spec.get(InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, "bad").spec_key) is None
    )


@pytest.mark.timeout(120)
async def test_deletion_keeps_the_finalizer_until_the_federation_lets_the_object_go(plane: Bridged) -> None:
    async with plane.bridge():
        await plane.custom.create_namespaced_custom_object(GROUP, VERSION, "default", MCM, sample())
        await plane.until(MCM, KEY.name, lambda o: condition(o, "Synced").get("status") == "True")
        await plane.custom.delete_namespaced_custom_object(GROUP, VERSION, "default", MCM, KEY.name)

        async def marked() -> bool:
            entry = await plane.admin.spec.get(KEY.spec_key)
            return entry is not None and entry.value.deleting

        await eventually(marked, 20)
        # Its members are still being removed (the spec is there, marked): the custom resource stays, and says so.
        held = await plane.until(MCM, KEY.name, lambda o: condition(o, "Synced").get("reason") == "Deleting")
        assert held["metadata"].get("deletionTimestamp") and FINALIZER in held["metadata"]["finalizers"]
        # Every member cluster reported its members gone: the federation drops the spec, the finalizer goes.
        entry = await plane.admin.spec.get(KEY.spec_key)
        assert entry is not None
        await plane.admin.spec.delete(KEY.spec_key, entry.revision)

        async def gone() -> bool:
            return await plane.get(MCM, KEY.name) is None

        await eventually(gone, 20)
    assert ["apply", "delete"] == [r["op"] for r in plane.requests]


@pytest.mark.timeout(120)
async def test_a_mongodb_is_bridged_only_when_it_names_its_member_cluster(plane: Bridged) -> None:
    local = sample("mongodb")
    local["metadata"]["name"] = "local-only"
    named = sample("mongodb")
    named["metadata"]["annotations"] = {"fedstate.io/cluster": "member-2"}
    async with plane.bridge():
        for body in (local, named):
            await plane.custom.create_namespaced_custom_object(GROUP, VERSION, "default", "mongodbs", body)
        name = named["metadata"]["name"]
        synced = await plane.until("mongodbs", name, lambda o: condition(o, "Synced").get("status") == "True")
        assert 1 == synced["status"]["observedGeneration"]
        stored = await plane.admin.spec.get(InstanceKey("default", "default", Kind.MONGODB, name).spec_key)
        assert stored is not None and "member-2" == stored.value.target_cluster
    untouched = await plane.get("mongodbs", "local-only")
    assert untouched is not None and not untouched["metadata"].get("finalizers") and not untouched.get("status")
    assert [name] == [r["object"]["metadata"]["name"] for r in plane.requests]


@pytest.mark.timeout(60)
async def test_a_status_computed_from_an_older_object_never_replaces_a_newer_spec(plane: Bridged) -> None:
    """A status write names the resourceVersion it was computed from: over a newer object it is refused (the
    bridge then reads again), and the newer spec stays."""
    await plane.custom.create_namespaced_custom_object(GROUP, VERSION, "default", MCM, sample())
    older = await CustomResources(plane.api).get(MULTICLOUD_MONGODB, "default", KEY.name)
    assert older is not None
    newer = {**older.body, "spec": {**older.body["spec"], "replicaset": 3}}
    await plane.custom.replace_namespaced_custom_object(GROUP, VERSION, "default", MCM, KEY.name, newer)
    assert not await CustomResources(plane.api).replace_status(older, {"state": "Health"})
    now = await plane.get(MCM, KEY.name)
    assert now is not None and 3 == now["spec"]["replicaset"] and not now.get("status")


@pytest.mark.timeout(120)
async def test_after_410_gone_the_bridge_lists_again_and_submits_only_what_is_new(
    secured_nats: SecuredNats, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A watch resumed from a position the cluster no longer keeps is 410 Gone: the bridge lists again, submits
    nothing the federation holds, and still follows edits."""
    caplog.set_level(logging.INFO, logger="fedstate.informer")
    async with control_plane(secured_nats, tmp_path, watch_history=10) as plane, plane.bridge():
        await plane.custom.create_namespaced_custom_object(GROUP, VERSION, "default", MCM, sample())
        await plane.until(MCM, KEY.name, lambda o: condition(o, "Synced").get("status") == "True")
        core = client.CoreV1Api(plane.api)
        for n in range(12):  # more changes than the cluster keeps, none of them the bridge's
            await core.create_namespaced_config_map("default", {"metadata": {"name": f"noise-{n}"}})
        plane.world.clusters[CONTEXT].store.close_watchers()  # the watches end; they resume from a lost position
        await eventually(lambda: asyncio.sleep(0.05, "watch expired" in caplog.text), 20)
        edited = await plane.get(MCM, KEY.name)
        assert edited is not None
        edited["spec"]["replicaset"] = 3
        await plane.custom.replace_namespaced_custom_object(GROUP, VERSION, "default", MCM, KEY.name, edited)
        await plane.until(MCM, KEY.name, lambda o: o["status"]["observedGeneration"] == 2)
    assert 2 == len([r for r in plane.requests if r["op"] == "apply"])


@pytest.mark.timeout(60)
async def test_only_the_configured_namespaces_are_bridged(plane: Bridged) -> None:
    await client.CoreV1Api(plane.api).create_namespace({"metadata": {"name": "team-a"}})
    elsewhere = sample()
    elsewhere["metadata"]["name"] = "elsewhere"
    async with plane.bridge(namespaces=["team-a"]):
        await plane.custom.create_namespaced_custom_object(GROUP, VERSION, "team-a", MCM, sample())
        await plane.custom.create_namespaced_custom_object(GROUP, VERSION, "default", MCM, elsewhere)
        await plane.until(MCM, KEY.name, lambda o: condition(o, "Synced").get("status") == "True", namespace="team-a")
    untouched = await plane.get(MCM, "elsewhere")
    assert untouched is not None and not untouched["metadata"].get("finalizers")
    assert [("team-a", KEY.name)] == [
        (r["object"]["metadata"]["namespace"], r["object"]["metadata"]["name"]) for r in plane.requests
    ]


@pytest.mark.timeout(60)
async def test_deleting_a_refused_custom_resource_leaves_another_writers_object_alone(plane: Bridged) -> None:
    """The federation holds an object of that name applied through REST or the bus; a custom resource of the same
    name whose spec was refused never became it, so deleting the custom resource deletes nothing else."""
    theirs = sample()
    request = IntakeRequest(op="apply", object=theirs)
    await intake.request(plane.admin.nc, request, federation_public_keys=plane.federation_public_keys)
    mine = sample()
    mine["spec"]["bogus"] = True
    async with plane.bridge():
        await plane.custom.create_namespaced_custom_object(GROUP, VERSION, "default", MCM, mine)
        await plane.until(MCM, KEY.name, lambda o: condition(o, "Synced").get("reason") == "Invalid")
        await plane.custom.delete_namespaced_custom_object(GROUP, VERSION, "default", MCM, KEY.name)

        async def gone() -> bool:
            return await plane.get(MCM, KEY.name) is None

        await eventually(gone, 20)
    entry = await plane.admin.spec.get(KEY.spec_key)
    assert entry is not None and not entry.value.deleting
    assert ["apply"] == [r["op"] for r in plane.requests]  # theirs; the bridge asked nothing
