"""Issue 10, item 4: the federation's sealing key and a cluster's rotate by the documented procedure
(docs/security.md, "Rotating the sealing keys") with no instance lost: every credential is sealed again to the
new keys, the members keep their credentials and every write, and the instance still changes afterwards."""

from __future__ import annotations

import asyncio
import time

from fedstate.bus.connection import connect
from fedstate.bus.names import cluster_filter
from fedstate.cli.localstack import LocalStack
from fedstate.models.dataplane import DataPlaneSpec
from fedstate.sealing import KeyRing

from .invariants import apply, auth_secrets, check, created, uri_for, wait_settled

NAME = "turny"
ROOT = "turny-root-pass"


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


def test_the_federation_and_a_cluster_rotate_their_keys_and_the_instance_lives_on(stack: LocalStack) -> None:
    status, ledger = created(stack, NAME, spec(3), ROOT)
    secrets_before = auth_secrets(stack, NAME)
    federation_key = stack.paths.federation_key

    stack.cli("bus", "rotate-key", str(federation_key))
    ring = KeyRing.read(federation_key)
    assert 2 == len(ring.keys)
    stack.kill("federation")
    stack.restart("federation")
    wait_sealed(stack, ring.public_key)
    stack.cli("bus", "rotate-key", "--forget-earlier", str(federation_key))
    stack.kill("federation")
    stack.restart("federation")

    cluster = next(c for c in secrets_before)
    cluster_key = stack.paths.cluster_keys / f"{cluster}.key"
    stack.cli("bus", "rotate-key", str(cluster_key))
    stack.kill(f"agent-{cluster}")
    stack.restart(f"agent-{cluster}")
    wait_sealed(stack, ring.public_key, KeyRing.read(cluster_key).public_key, cluster)
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
