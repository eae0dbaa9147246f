"""A forced recovery is asked through the intake (issue 12, item 5), validated like a write: refused without
force, refused while the voting majority is reachable, and recorded on the object for the quorum loss it
was asked for; an apply afterwards keeps the record."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey, Kind, intake_subject
from fedstate.bus.objects import StatusRecord
from fedstate.models.base import Condition
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus

LOST_SINCE = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)


async def ask(bus: Bus, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await bus.nc.request(intake_subject(tenant), json.dumps(body).encode(), timeout=5)
    return dict(json.loads(reply.data))


async def created(bus: Bus) -> tuple[str, str, InstanceKey]:
    tenant, name = f"r{uuid.uuid4().hex[:8]}", f"db-{uuid.uuid4().hex[:6]}"
    manifest = {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": name},
    }
    assert (await ask(bus, tenant, {"op": "apply", "object": {**manifest, "spec": {"replicaset": 3}}}))["ok"]
    return tenant, name, InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, name)


async def with_quorum(bus: Bus, key: InstanceKey, lost: bool) -> None:
    condition = Condition(
        type="QuorumLost",
        status=str(lost),
        reason="MajorityUnreachable" if lost else "MajorityReachable",
        message="1 of 3 voters reachable, a majority needs 2; surviving members: m0" if lost else "fine",
        last_transition_time=LOST_SINCE,
    )
    status = MultiCloudMongoDBStatus(conditions=[condition], state=InstanceState.UN_HEALTH)
    await bus.status.put(key.status_key, StatusRecord(kind="MultiCloudMongoDB", multicloud=status))


def recover(name: str, force: bool) -> dict[str, Any]:
    return {"op": "recover", "kind": "mcm", "namespace": "default", "name": name, "force": force}


async def test_recovery_without_force_is_refused_and_nothing_is_recorded(bus: Bus, intake: None) -> None:
    tenant, name, key = await created(bus)
    await with_quorum(bus, key, lost=True)
    reply = await ask(bus, tenant, recover(name, force=False))
    assert (422, ["force"]) == (reply["error"]["code"], [c["field"] for c in reply["error"]["causes"]])
    assert "loses every write not replicated" in reply["error"]["message"]
    stored = await bus.spec.get(key.spec_key)
    assert stored is not None and stored.value.recovery is None


async def test_recovery_is_refused_while_a_majority_is_reachable(bus: Bus, intake: None) -> None:
    tenant, name, key = await created(bus)
    reply = await ask(bus, tenant, recover(name, force=True))
    assert 409 == reply["error"]["code"] and "does not need a forced recovery" in reply["error"]["message"]
    await with_quorum(bus, key, lost=False)
    reply = await ask(bus, tenant, recover(name, force=True))
    assert 409 == reply["error"]["code"] and "its voting majority is reachable" in reply["error"]["message"]
    stored = await bus.spec.get(key.spec_key)
    assert stored is not None and stored.value.recovery is None


async def test_forced_recovery_of_a_lost_majority_is_recorded_for_that_loss_and_kept_by_applies(
    bus: Bus, intake: None
) -> None:
    tenant, name, key = await created(bus)
    await with_quorum(bus, key, lost=True)
    reply = await ask(bus, tenant, recover(name, force=True))
    assert reply["ok"] and "recovering" == reply["outcome"], reply
    stored = await bus.spec.get(key.spec_key)
    assert stored is not None and stored.value.recovery is not None
    assert LOST_SINCE == stored.value.recovery.quorum_lost_since
    generation = stored.value.metadata.generation
    manifest = {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": name},
    }
    assert (await ask(bus, tenant, {"op": "apply", "object": {**manifest, "spec": {"replicaset": 5}}}))["ok"]
    again = await bus.spec.get(key.spec_key)
    assert again is not None and again.value.recovery == stored.value.recovery
    assert generation + 1 == again.value.metadata.generation


async def test_only_an_existing_instance_can_be_recovered(bus: Bus, intake: None) -> None:
    reply = await ask(bus, "default", recover("nobody-here", force=True))
    assert 404 == reply["error"]["code"]
