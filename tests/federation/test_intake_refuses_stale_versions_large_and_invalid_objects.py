"""A request on the bus gets what REST gets: 409 for a stale resourceVersion, 413 for an oversized object, and
an Invalid message in the API server's words."""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client import REGISTRY

from fedstate.bus.connection import Bus
from fedstate.bus.intake import IntakeReply, IntakeRequest
from fedstate.bus.limits import MAX_OBJECT_BYTES
from fedstate.bus.names import intake_subject
from fedstate.sealing import KeyRing
from fedstate_federation.intake import handle
from fedstate_federation.vault import Vault

# The federation's key of these tests: every intake request seals and opens with it.
VAULT = Vault(KeyRing.generate())


def mcm(name: str, version: str | None = None, **spec: Any) -> dict[str, Any]:
    metadata = {"name": name, "namespace": "bus"} | ({"resourceVersion": version} if version else {})
    return {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": "MultiCloudMongoDB",
        "metadata": metadata,
        "spec": {"replicaset": 3, **spec},
    }


async def apply(bus: Bus, obj: dict[str, Any]) -> IntakeReply:
    payload = IntakeRequest(op="apply", object=obj).model_dump_json(by_alias=True).encode()
    return await handle(bus, payload, subject=intake_subject(), vault=VAULT)


async def test_replies_carry_the_revision_and_a_stale_one_is_refused(bus: Bus) -> None:
    name = f"rv-{uuid.uuid4().hex[:6]}"
    created = await apply(bus, mcm(name))
    assert created.object is not None
    first = created.object["metadata"]["resourceVersion"]
    updated = await apply(bus, mcm(name, first, replicaset=5))
    assert (True, "updated") == (updated.ok, updated.outcome)
    assert updated.object is not None
    current = updated.object["metadata"]["resourceVersion"]
    assert int(current) > int(first)
    stale = await apply(bus, mcm(name, first, replicaset=7))
    assert stale.error is not None
    assert (False, 409, "Conflict") == (stale.ok, stale.error.code, stale.error.reason)
    assert [("metadata.resourceVersion", f"is {first}, the current version is {current}")] == [
        (c.field, c.message) for c in stale.error.causes
    ]
    unchanged = await apply(bus, mcm(name, current, replicaset=5))
    assert (True, "unchanged") == (unchanged.ok, unchanged.outcome)


async def test_an_object_over_the_limit_is_413_and_counted_as_such(bus: Bus) -> None:
    name = f"big-{uuid.uuid4().hex[:6]}"
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"b": "x" * MAX_OBJECT_BYTES}}
    before = REGISTRY.get_sample_value("fedstate_intake_requests_total", {"result": "RequestEntityTooLarge"}) or 0
    reply = await apply(bus, big)
    assert before + 1 == REGISTRY.get_sample_value(
        "fedstate_intake_requests_total", {"result": "RequestEntityTooLarge"}
    )
    assert reply.error is not None
    assert (413, "RequestEntityTooLarge") == (reply.error.code, reply.error.reason)
    assert reply.error.message.startswith(f'ConfigMap "{name}" is too large: ')


async def test_an_invalid_object_is_named_with_its_causes_listed_once(bus: Bus) -> None:
    reply = await apply(bus, mcm("bad", replicaset="3", replicaSet=3))
    assert reply.error is not None
    assert (
        'MultiCloudMongoDB "bad" is invalid: [spec.replicaset: expected an integer, got string "3", '
        "spec.replicaSet: unknown field; did you mean spec.replicaset?]"
    ) == reply.error.message
    assert ["spec.replicaset", "spec.replicaSet"] == [c.field for c in reply.error.causes]
