"""Issue 10, item 4: the federation's sealing key and a cluster's rotate by the documented procedure
(docs/security.md, "Rotating the sealing keys") with no instance lost: every credential is sealed again to the
new keys, the members keep their credentials and every write, and the instance still changes afterwards. A
single-cluster MongoDB in the rotated cluster too: its box is sealed again, and its agent, which pins the
federation's keys, follows the federation's rotation."""

from __future__ import annotations

import asyncio
import time

from fedstate.api.resources import MONGODB
from fedstate.bus.connection import connect
from fedstate.bus.names import InstanceKey, Kind, cluster_filter
from fedstate.cli.localstack import LocalStack
from fedstate.models.dataplane import DataPlaneSpec
from fedstate.models.sealed import Sealed
from fedstate.sealing import KeyRing

from .invariants import apply, auth_secrets, check, created, uri_for, wait_gone, wait_settled
from .test_single_cluster_mongodb import wait_running

NAME = "turny"
ROOT = "turny-root-pass"
SINGLE = "turny-single"


def spec(replicas: int) -> str:
    return f"{{replicaset: {replicas}, auth: {{rootPasswd: {ROOT}}}}}"


async def _specs(stack: LocalStack) -> dict[str, DataPlaneSpec]:
    admin, access = stack.admin_access()
    bus = await connect(stack.nats_url, name="e2e-sealing", identity=admin, access=access)
    try:
        keys = [change.key async for change in bus.dataplane.watch(follow=False) if not change.deleted]
        entries = {key: await bus.dataplane.get(key) for key in keys}
        return {key: entry.value for key, entry in entries.items() if entry is not None}
    finally:
        await bus.close()


def specs_of(stack: LocalStack, cluster: str | None = None) -> list[DataPlaneSpec]:
    found = asyncio.run(_specs(stack))
    prefix = cluster_filter(cluster).removesuffix(">") if cluster else ""
    return [value for key, value in found.items() if key.startswith(prefix) and value.instance.name == NAME]


def wait_sealed(stack: LocalStack, sender: str, recipient: str | None = None, cluster: str | None = None) -> None:
    """Until every spec of the instance (in ``cluster``) is sealed by ``sender`` (to ``recipient``)."""

    def done() -> bool:
        specs = specs_of(stack, cluster)
        return bool(specs) and all(
            s.sealed is not None
            and s.vault is not None
            and s.sealed.sender == sender
            and s.vault.sender == sender
            and (recipient is None or s.sealed.recipient == recipient)
            for s in specs
        )

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not done():
        time.sleep(0.5)
    assert done(), f"not every spec is sealed again: {[s.sealed for s in specs_of(stack, cluster)]}"


async def _single_box(stack: LocalStack) -> Sealed | None:
    admin, access = stack.admin_access()
    bus = await connect(stack.nats_url, name="e2e-sealing", identity=admin, access=access)
    try:
        entry = await bus.spec.get(InstanceKey("default", "default", Kind.MONGODB, SINGLE).spec_key)
        return entry.value.sealed if entry is not None else None
    finally:
        await bus.close()


def wait_single_sealed(stack: LocalStack, sender: str, recipient: str) -> None:
    """Until the single-cluster object's box is sealed by ``sender`` to ``recipient``, with no apply."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not _sealed_by(asyncio.run(_single_box(stack)), sender, recipient):
        time.sleep(0.5)
    assert _sealed_by(asyncio.run(_single_box(stack)), sender, recipient), "the single-cluster box is not sealed again"


def _sealed_by(box: Sealed | None, sender: str, recipient: str) -> bool:
    return box is not None and (box.sender, box.recipient) == (sender, recipient)


def single(stack: LocalStack, cluster: str, root: str) -> None:
    apply(stack, SINGLE, f"{{members: 1, rootPassword: {root}}}", "MongoDB", "--cluster", cluster)


def test_the_federation_and_a_cluster_rotate_their_keys_and_the_instance_lives_on(stack: LocalStack) -> None:
    status, ledger = created(stack, NAME, spec(3), ROOT)
    secrets_before = auth_secrets(stack, NAME)
    federation_key = stack.paths.federation_key
    cluster = next(c for c in secrets_before)
    single(stack, cluster, "single-root-1")
    wait_running(stack, SINGLE, cluster, 1)

    stack.cli("bus", "rotate-key", str(federation_key))
    ring = KeyRing.read(federation_key)
    assert 2 == len(ring.keys)
    stack.kill("federation")
    stack.restart("federation")
    wait_sealed(stack, ring.public_key)
    stack.cli("bus", "rotate-key", "--forget-earlier", str(federation_key))
    stack.kill("federation")
    stack.restart("federation")

    cluster_key = stack.paths.cluster_keys / f"{cluster}.key"
    stack.cli("bus", "rotate-key", str(cluster_key))
    stack.kill(f"agent-{cluster}")
    stack.restart(f"agent-{cluster}")
    wait_sealed(stack, ring.public_key, KeyRing.read(cluster_key).public_key, cluster)
    wait_single_sealed(stack, ring.public_key, KeyRing.read(cluster_key).public_key)
    stack.cli("bus", "rotate-key", "--forget-earlier", str(cluster_key))
    stack.kill(f"agent-{cluster}")
    stack.restart(f"agent-{cluster}")

    # Only the new keys left: the instance still scales, with the credentials its data holds.
    apply(stack, NAME, spec(5))
    status = wait_settled(stack, NAME)
    ledger.uri = uri_for(status, NAME, ROOT)
    assert 5 == len(check(stack, NAME, ledger)["members"])
    after = auth_secrets(stack, NAME)
    assert {c: s for c, s in after.items() if c in secrets_before} == secrets_before, "the members' credentials stayed"
    assert 1 == len({s["keyfile"] for s in after.values()})

    single(stack, cluster, "single-root-2")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and auth_secrets(stack, SINGLE)[cluster]["root-password"] != "single-root-2":
        time.sleep(0.5)
    assert "single-root-2" == auth_secrets(stack, SINGLE)[cluster]["root-password"]
    assert "Running" == wait_running(stack, SINGLE, cluster, 1)["state"]
    refused = [e for e in stack.gateway.events("default", SINGLE).items if e.reason == "SealedCredentials"]
    assert [] == refused, "the agent never refused what the federation sealed"
    stack.cli("delete", "mongodb", SINGLE)
    wait_gone(stack, SINGLE, MONGODB)
