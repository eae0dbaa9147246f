"""Issue 10, item 3, on the intake: a submitter (the gateway, the crd-bridge, a Python platform) seals each secret
field of a request to the federation's current public key, bound to the tenant, kind, namespace, name and field it
is for. The intake opens it; one in clear is refused naming its field path, and so is one copied into another
object's request, another tenant's or another field, or a value taken from fs-spec."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from nats.aio.msg import Msg

from fedstate.bus import intake
from fedstate.bus.connection import Bus
from fedstate.bus.intake import IntakeFailed, IntakeReply, IntakeRequest
from fedstate.bus.names import InstanceKey, Kind, intake_subject, intake_subject_all
from fedstate.sealing import KeyRing
from fedstate_federation.intake import handle, serve_intake
from fedstate_federation.vault import Vault
from tests.sealed_intake import federation_public_keys, sealed_payload

VAULT = Vault(KeyRing.generate())
ROOT, REGISTRY = "root-pass-8317", "registry-pass-2291"
ROOT_FIELD, REGISTRY_FIELD = "spec.auth.rootPasswd", "spec.imageSetting.imagePullSecret.password"


def mcm(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicaset": 3,
            "auth": {"rootPasswd": ROOT},
            "imageSetting": {"imagePullSecret": {"username": "bot", "password": REGISTRY}},
        },
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def answer(bus: Bus, obj: dict[str, Any], tenant: str = "default") -> IntakeReply:
    payload = IntakeRequest(op="apply", object=obj).model_dump_json(by_alias=True).encode()
    return await handle(bus, payload, subject=intake_subject(tenant), vault=VAULT)


def sealed(obj: dict[str, Any], tenant: str = "default") -> dict[str, Any]:
    """``obj`` as a submitter of ``tenant`` publishes it."""
    request = IntakeRequest.model_validate_json(sealed_payload(VAULT, IntakeRequest(op="apply", object=obj), tenant))
    assert request.object is not None
    return request.object


def refused_field(reply: IntakeReply) -> str:
    assert not reply.ok and reply.error is not None, reply
    assert 400 == reply.error.code, reply.error
    return reply.error.causes[0].field


async def stored(bus: Bus, name: str) -> Any:
    return await bus.spec.get(InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, name).spec_key)


async def test_what_a_submitter_publishes_holds_no_secret_and_the_federation_opens_it(bus: Bus, tmp_path: Path) -> None:
    published: list[bytes] = []

    async def tap(msg: Msg) -> None:
        published.append(msg.data)

    tapped = await bus.nc.subscribe(intake_subject_all(), cb=tap)
    serving = await serve_intake(bus, VAULT)
    try:
        name = unique("sealed")
        request = IntakeRequest(op="apply", object=mcm(name))
        reply = await intake.request(bus.nc, request, federation_public_keys=federation_public_keys(VAULT, tmp_path))
        assert "created" == reply.outcome
        with pytest.raises(IntakeFailed) as no_key:
            await intake.request(bus.nc, IntakeRequest(op="apply", object=mcm(unique("nokey"))))
        await bus.nc.flush()
    finally:
        await serving.unsubscribe()
        await tapped.unsubscribe()
    assert 1 == len(published), "a request whose secret cannot be sealed is not published"
    assert ROOT.encode() not in published[0] and REGISTRY.encode() not in published[0]
    assert (400, ROOT_FIELD) == (no_key.value.error.code, no_key.value.error.causes[0].field)
    entry = await stored(bus, name)
    opened = VAULT.opened_object(entry.value).spec
    assert (ROOT, REGISTRY) == (opened["auth"]["rootPasswd"], opened["imageSetting"]["imagePullSecret"]["password"])


async def test_a_secret_in_clear_is_refused_by_its_field_path_and_nothing_is_stored(bus: Bus) -> None:
    name = unique("clear")
    assert ROOT_FIELD == refused_field(await answer(bus, mcm(name)))
    only_registry = sealed(mcm(name))
    only_registry["spec"]["imageSetting"]["imagePullSecret"]["password"] = REGISTRY
    assert REGISTRY_FIELD == refused_field(await answer(bus, only_registry))
    assert await stored(bus, name) is None


async def test_a_sealed_secret_opens_only_in_the_request_and_field_it_was_sealed_for(bus: Bus) -> None:
    name = unique("bound")
    original = sealed(mcm(name))
    other_object = {**original, "metadata": {"name": unique("thief"), "namespace": "default"}}
    assert ROOT_FIELD == refused_field(await answer(bus, other_object))
    assert ROOT_FIELD == refused_field(await answer(bus, original, tenant="other-tenant"))
    swapped = sealed(mcm(name))
    pull = swapped["spec"]["imageSetting"]["imagePullSecret"]
    swapped["spec"]["auth"]["rootPasswd"], pull["password"] = pull["password"], swapped["spec"]["auth"]["rootPasswd"]
    assert ROOT_FIELD == refused_field(await answer(bus, swapped))
    assert (await answer(bus, original)).ok
    # The value fs-spec holds is sealed by the federation to itself, for the stored object: not a request's.
    from_the_bucket = sealed(mcm(name))
    from_the_bucket["spec"]["auth"] = (await stored(bus, name)).value.spec["auth"]
    assert ROOT_FIELD == refused_field(await answer(bus, from_the_bucket))
