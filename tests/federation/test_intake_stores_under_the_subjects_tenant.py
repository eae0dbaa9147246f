"""A request on ``fedstate.v1.intake.<tenant>`` is stored under that tenant; a body naming another is refused."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fedstate.bus.connection import Bus
from fedstate.bus.names import DEFAULT_TENANT, InstanceKey, Kind, intake_subject


def apply_body(name: str, **extra: Any) -> dict[str, Any]:
    manifest = {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": name},
    }
    return {"op": "apply", "object": {**manifest, "spec": {"replicaset": 3}}, **extra}


async def publish(bus: Bus, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    """Send raw JSON, as a platform without fedstate's Python models would."""
    reply = await bus.nc.request(subject, json.dumps(body).encode(), timeout=5)
    return dict(json.loads(reply.data))


async def stored_tenants(bus: Bus, name: str, *tenants: str) -> list[str]:
    keys = [InstanceKey(t, "default", Kind.MULTICLOUD_MONGODB, name) for t in tenants]
    return [key.tenant for key in keys if await bus.spec.get(key.spec_key) is not None]


async def test_the_subjects_tenant_is_where_the_object_is_stored(bus: Bus, intake: None) -> None:
    """Published on the acme subject with no tenant in the body, the object belongs to acme, not default."""
    tenant, name = f"acme{uuid.uuid4().hex[:6]}", f"rs-{uuid.uuid4().hex[:6]}"
    reply = await publish(bus, intake_subject(tenant), apply_body(name))
    assert (True, "created") == (reply["ok"], reply["outcome"])
    assert [tenant] == await stored_tenants(bus, name, tenant, DEFAULT_TENANT)


async def test_a_body_may_repeat_the_subjects_tenant(bus: Bus, intake: None) -> None:
    """Like a manifest repeating kubectl's namespace: the same tenant in the body is accepted."""
    tenant, name = f"acme{uuid.uuid4().hex[:6]}", f"rs-{uuid.uuid4().hex[:6]}"
    reply = await publish(bus, intake_subject(tenant), apply_body(name, tenant=tenant))
    assert reply["ok"], reply
    assert [tenant] == await stored_tenants(bus, name, tenant, DEFAULT_TENANT)


async def test_a_body_naming_another_tenant_is_refused_by_field(bus: Bus, intake: None) -> None:
    """A body tenant that contradicts the subject is a 400 naming ``tenant``, and nothing is stored anywhere."""
    tenant, name = f"acme{uuid.uuid4().hex[:6]}", f"rs-{uuid.uuid4().hex[:6]}"
    reply = await publish(bus, intake_subject(tenant), apply_body(name, tenant=DEFAULT_TENANT))
    error = reply["error"]
    assert (False, 400, "BadRequest") == (reply["ok"], error["code"], error["reason"])
    assert ["tenant"] == [cause["field"] for cause in error["causes"]]
    assert f"does not match the tenant of subject {intake_subject(tenant)}" in error["message"]
    assert [] == await stored_tenants(bus, name, tenant, DEFAULT_TENANT)


async def test_a_delete_acts_on_the_subjects_tenant_only(bus: Bus, intake: None) -> None:
    """Deleting on one tenant's subject never touches a same-named object of another tenant."""
    ours, theirs, name = f"ours{uuid.uuid4().hex[:6]}", f"theirs{uuid.uuid4().hex[:6]}", f"rs-{uuid.uuid4().hex[:6]}"
    for tenant in (ours, theirs):
        assert (await publish(bus, intake_subject(tenant), apply_body(name)))["ok"]
    delete = {"op": "delete", "kind": "MultiCloudMongoDB", "name": name}
    assert (await publish(bus, intake_subject(ours), delete))["ok"]
    spec = await bus.spec.get(InstanceKey(theirs, "default", Kind.MULTICLOUD_MONGODB, name).spec_key)
    assert spec is not None and not spec.value.deleting


async def test_a_tenant_that_cannot_be_a_key_token_is_refused(bus: Bus, intake: None) -> None:
    """The subject's tenant becomes a KV key token, so it must be a DNS-1123 label."""
    reply = await publish(bus, intake_subject("Acme_Corp"), apply_body(f"rs-{uuid.uuid4().hex[:6]}"))
    assert (400, ["subject"]) == (reply["error"]["code"], [c["field"] for c in reply["error"]["causes"]])
