"""Progress the orchestrator holds back (``status_progress_seconds``) is written when it is due, though nothing else
happens: the pass that held it comes back for it. Against a NATS server of its own (an orchestrator watches every
key of its buckets), agents played by the test: their leases and reports, as the bus contract has them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from fedstate.bus.connection import Bus, connect
from fedstate.bus.names import Bucket, InstanceKey, Kind, LeaseHolder, kv_subject, lease_key
from fedstate.bus.objects import StoredObject
from fedstate.models.base import ObjectMeta, utcnow
from fedstate.models.dataplane import DataPlaneStatus, MemberObservation
from fedstate.models.lease import Lease
from fedstate.models.multicloud import MultiCloudMongoDBStatus
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate.natsserver import start_nats_server
from fedstate.replset.members import assign_members
from fedstate.sealing import KeyRing
from fedstate_federation.orchestrator import Orchestrator
from fedstate_federation.settings import FederationSettings
from fedstate_federation.vault import Vault

CLUSTERS = ("c1", "c2", "c3")
INSTANCE = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, "db")
PROGRESS_SECONDS = 0.5


@pytest.fixture
async def own_bus(tmp_path: Path) -> AsyncIterator[tuple[Bus, str]]:
    server = start_nats_server(tmp_path / "jetstream")
    try:
        bus = await connect(server.url, name="orchestrator-under-test")
        yield bus, server.url
        await bus.close()
    finally:
        server.stop()


class StatusWrites:
    """Each write of the instance's status, with when it arrived."""

    def __init__(self) -> None:
        self.writes: list[tuple[float, MultiCloudMongoDBStatus]] = []
        self.changed = asyncio.Event()

    async def record(self, msg: nats.aio.msg.Msg) -> None:
        if msg.data:
            status = MultiCloudMongoDBStatus.model_validate(json.loads(msg.data)["data"]["multicloud"])
            self.writes.append((time.monotonic(), status))
            self.changed.set()

    async def until(self, roles: dict[str, str], timeout: float) -> tuple[float, MultiCloudMongoDBStatus]:
        """The first write whose members have these roles (address → role)."""
        async with asyncio.timeout(timeout):
            while True:
                for at, status in self.writes:
                    if {a: r for c in status.result for a, r in c.connect_addr_with_role.items()} == roles:
                        return at, status
                self.changed.clear()
                await self.changed.wait()


def report(cluster: str, ordinal: int, role: str) -> DataPlaneStatus:
    member = MemberObservation(ordinal=ordinal, name=f"db-m{ordinal}", address=address(ordinal), ready=True, role=role)
    return DataPlaneStatus(cluster=cluster, members=[member], observed_at=utcnow())


def address(ordinal: int) -> str:
    return f"127.0.{ordinal + 1}.1:3000{ordinal}"


async def test_a_member_s_new_role_held_back_is_written_once_due_with_no_other_change(
    own_bus: tuple[Bus, str],
) -> None:
    bus, url = own_bus
    for cluster in CLUSTERS:
        lease = Lease(
            holder=cluster,
            component=LeaseHolder.AGENT,
            renewed_at=utcnow(),
            renew_every_seconds=60,
            public_key=KeyRing.generate().public_key,
        )
        await bus.leases.put(lease_key(LeaseHolder.AGENT, cluster), lease)
    meta = ObjectMeta(name=INSTANCE.name, generation=1)
    spec = StoredObject(
        api_version="middleware.fedstate.io/v1alpha1",
        kind="MultiCloudMongoDB",
        tenant=INSTANCE.tenant,
        metadata=meta,
        spec={"replicaset": 3},
    )
    await bus.spec.put(INSTANCE.spec_key, spec)
    clusters = [ClusterAssignment(cluster=c, replicas=1, voters=1) for c in CLUSTERS]
    await bus.placements.put(INSTANCE.placement_key, Placement(spec_generation=1, mode="Uniform", clusters=clusters))
    where = {
        ordinal: cluster
        for cluster, ordinals in assign_members({}, dict.fromkeys(CLUSTERS, 1)).items()
        for ordinal in ordinals
    }

    tap = StatusWrites()
    nc = await nats.connect(url)
    await nc.subscribe(kv_subject(Bucket.STATUS, INSTANCE.status_key), cb=tap.record)
    settings = FederationSettings(status_progress_seconds=PROGRESS_SECONDS, failure_threshold_seconds=600)
    orchestrator = Orchestrator(bus, settings, Vault(KeyRing.generate()))
    running = asyncio.create_task(orchestrator.run())
    try:
        for ordinal, cluster in where.items():
            await bus.observed.put(INSTANCE.observed_key(cluster), report(cluster, ordinal, "STARTUP2"))
        starting = dict.fromkeys(map(address, where), "STARTUP2")
        shown_at, shown = await tap.until(starting, timeout=10)
        assert "Creating" == shown.state
        # One member's role, and nothing else: progress, not a milestone. Nothing happens after it.
        ordinal, cluster = next(iter(where.items()))
        await bus.observed.put(INSTANCE.observed_key(cluster), report(cluster, ordinal, "SECONDARY"))
        written_at, written = await tap.until({**starting, address(ordinal): "SECONDARY"}, timeout=10)
        assert "Creating" == written.state
        # Held back (it came within the half second after the write before), yet written.
        last_before = max(at for at, _ in tap.writes if at < written_at)
        assert written_at - last_before >= PROGRESS_SECONDS - 0.15
        assert shown_at <= last_before
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await orchestrator.controller.close()
        await nc.close()
