"""Any tenant (the subject's last token), namespace or name thrown at the bus intake: a request is stored exactly
when all three are DNS-1123 labels; any other is refused naming the field, and writes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid

from hypothesis import example, given, settings
from hypothesis import strategies as st

from fedstate.bus.connection import connect
from fedstate.bus.names import intake_subject
from fedstate.natsserver import NatsServer
from fedstate.sealing import KeyRing
from fedstate_federation.intake import serve_intake
from fedstate_federation.vault import Vault
from tests.dns_labels import is_label

LABELS = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?", fullmatch=True)
# A subject token holds no dot and no blank: anything else may come as a tenant.
TENANTS = LABELS | st.text(alphabet="ab9-_A*>ü", min_size=1, max_size=66)
NAMES = LABELS | st.text(alphabet="ab09-._A *>\nü", max_size=66)


async def ask(url: str, tenant: str, namespace: str, name: str) -> tuple[dict[str, object], int, int]:
    """The intake's reply, and the last fs-spec revision before and after the request."""
    bus = await connect(url, name=f"names-{uuid.uuid4().hex[:6]}")
    intake = await serve_intake(bus, Vault(KeyRing.generate()))
    try:
        before = await bus.spec.last_revision()
        manifest = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
                    "metadata": {"name": name, "namespace": namespace}, "spec": {"replicaset": 1}}  # fmt: skip
        request = json.dumps({"op": "apply", "object": manifest}).encode()
        reply = json.loads((await bus.nc.request(intake_subject(tenant), request, timeout=10)).data)
        return reply, before, await bus.spec.last_revision()
    finally:
        await intake.unsubscribe()
        await bus.close()


@settings(max_examples=40)
@given(tenant=TENANTS, namespace=NAMES | st.just("default"), name=NAMES)
@example(tenant="*", namespace="default", name="gamma")
@example(tenant="acme", namespace="default", name="*")
@example(tenant="acme", namespace="a.b", name="ok")
@example(tenant="a" * 64, namespace="default", name="ok")
def test_only_labels_are_stored_and_every_refusal_names_its_field(
    nats_server: NatsServer, tenant: str, namespace: str, name: str
) -> None:
    reply, before, after = asyncio.run(ask(nats_server.url, tenant, namespace, name))
    if is_label(tenant) and is_label(namespace) and is_label(name):
        assert reply["ok"], reply
        return
    assert not reply["ok"] and before == after
    error = reply["error"]
    assert isinstance(error, dict)
    fields = {cause["field"] for cause in error["causes"]}
    expected = {"subject"} if not is_label(tenant) else set()
    expected |= {"metadata.namespace"} if is_label(tenant) and not is_label(namespace) else set()
    expected |= {"metadata.name"} if is_label(tenant) and not is_label(name) else set()
    assert expected == fields, error
