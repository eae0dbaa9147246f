"""A MongoDB and a MultiCloudMongoDB cannot share a name in a namespace: their members would share
Kubernetes names in a member cluster."""

from __future__ import annotations

import uuid

from fedstate.bus.connection import Bus
from fedstate.bus.intake import IntakeRequest
from fedstate.bus.names import intake_subject
from fedstate.sealing import KeyRing
from fedstate_federation.intake import handle
from fedstate_federation.vault import Vault
from tests.conftest import register_clusters

API = "middleware.fedstate.io/v1alpha1"

# The federation's key of these tests: every intake request seals and opens with it.
VAULT = Vault(KeyRing.generate())


async def apply(bus: Bus, kind: str, name: str, cluster: str | None = None) -> dict[str, object]:
    request = IntakeRequest(
        op="apply",
        object={"apiVersion": API, "kind": kind, "metadata": {"name": name, "namespace": "twins"}, "spec": {}},
        target_cluster=cluster,
    )
    payload = request.model_dump_json(by_alias=True).encode()
    return (await handle(bus, payload, subject=intake_subject(), vault=VAULT)).model_dump(by_alias=True)


async def test_the_second_kind_with_a_taken_name_is_refused(bus: Bus) -> None:
    await register_clusters(bus)
    name = f"twin-{uuid.uuid4().hex[:6]}"
    assert (await apply(bus, "MultiCloudMongoDB", name))["ok"]
    refused = await apply(bus, "MongoDB", name, "member-1")
    assert (False, 409) == (refused["ok"], refused["error"]["code"])  # type: ignore[index]
    assert "MultiCloudMongoDB twins/" in refused["error"]["message"]  # type: ignore[index]
    other = f"single-{uuid.uuid4().hex[:6]}"
    assert (await apply(bus, "MongoDB", other, "member-1"))["ok"]
    assert 409 == (await apply(bus, "MultiCloudMongoDB", other))["error"]["code"]  # type: ignore[index]
