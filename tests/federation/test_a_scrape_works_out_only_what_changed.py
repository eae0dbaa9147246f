"""The federation's instance metrics at a scrape: a steady fleet's scrape works nothing out again, a changed report or
status is worked out for its own instance alone, an agent gone silent shows at once for every instance it served —
and what is served is always what a fresh rendering would be. Against a NATS server of its own, agents played by
the test (their leases and reports, as the bus contract has them)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import nats.errors
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fedstate.bus.connection import Bus, connect
from fedstate.bus.names import InstanceKey, Kind, LeaseHolder, lease_key
from fedstate.bus.objects import StoredObject
from fedstate.models.base import ObjectMeta, utcnow
from fedstate.models.dataplane import DataPlaneStatus, MemberObservation
from fedstate.models.lease import Lease
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate.natsserver import start_nats_server
from fedstate.replset.members import assign_members
from fedstate.scrape import Sample, exposition
from fedstate.sealing import KeyRing
from fedstate_federation.domain import metrics
from fedstate_federation.orchestrator import INSTANCE_METRICS, Orchestrator
from fedstate_federation.settings import FederationSettings
from fedstate_federation.vault import Vault

CLUSTERS = ("c1", "c2", "c3")
INSTANCES = [InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, f"db{i}") for i in range(12)]
WHERE = {o: c for c, ordinals in assign_members({}, dict.fromkeys(CLUSTERS, 1)).items() for o in ordinals}
# Long: the live agents' leases, renewed every second by this test's own event loop, must not expire while the
# machine is loaded (with 5 s, a CI run starved them long enough that c1's PRIMARY was served as DOWN).
FAILURE_THRESHOLD_SECONDS = 60.0
PUBLIC_KEYS = {cluster: KeyRing.generate().public_key for cluster in CLUSTERS}  # one per agent, for good
Members = dict[tuple[str, str, str], float]  # (instance name, cluster, state) → members


class Worked:
    """Per scrape of /metrics, whether it asked for the instance samples at all, and how many instances' samples it
    worked out; and what it served, checked against a fresh rendering of the same caches."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, orchestrator: Orchestrator) -> None:
        self.scrapes = self.instances = 0
        self.counting = True
        source, work = orchestrator.instance_samples, metrics.instance_samples

        def scraped() -> Iterator[Sample]:
            self.scrapes += self.counting
            return source()

        def worked_out(reading: metrics.InstanceReading) -> Iterator[Sample]:
            self.instances += self.counting
            return work(reading)

        monkeypatch.setattr(orchestrator, "instance_samples", scraped)
        monkeypatch.setattr(metrics, "instance_samples", worked_out)

    def scrape(self) -> tuple[tuple[int, int], Members]:
        """(scrapes that asked for samples, instances worked out) in one scrape, and the members it served."""
        scrapes, instances = self.scrapes, self.instances
        text = exposition().decode()
        work = self.scrapes - scrapes, self.instances - instances
        self.counting = False
        try:
            assert generate_latest(INSTANCE_METRICS).decode() in text, "served other than a fresh rendering"
        finally:
            self.counting = True
        return work, members(text)

    def work(self) -> tuple[int, int]:
        return self.scrape()[0]

    def served(self) -> Members:
        return self.scrape()[1]


@dataclass
class Fleet:
    bus: Bus
    worked: Worked
    renewing: set[str]  # the clusters whose agents renew their leases


def members(text: str) -> Members:
    return {
        (s.labels["multicloudmongodb"], s.labels["cluster"], s.labels["state"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == metrics.MEMBERS.name
        for s in family.samples
    }


def report(cluster: str, role: str) -> DataPlaneStatus:
    ordinal = next(o for o, c in WHERE.items() if c == cluster)
    member = MemberObservation(
        ordinal=ordinal, name=f"m{ordinal}", address=f"127.0.0.1:{30000 + ordinal}", ready=role != "DOWN", role=role
    )
    return DataPlaneStatus(cluster=cluster, members=[member], observed_at=utcnow())


def lease(cluster: str, silent_for: timedelta = timedelta(0)) -> Lease:
    return Lease(
        holder=cluster,
        component=LeaseHolder.AGENT,
        renewed_at=utcnow() - silent_for,
        renew_every_seconds=60,
        public_key=PUBLIC_KEYS[cluster],
    )


async def until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


async def renew(bus: Bus, clusters: set[str]) -> None:
    """The agents' heartbeat: each of ``clusters`` renews its lease every second (the set may shrink, even while a
    renewal waits for its ack). A put that fails is tried again a second later, as an agent does: on a loaded
    machine one unanswered put must not end every renewal and let all three clusters fall silent."""
    while True:
        for cluster in sorted(clusters):
            if cluster not in clusters:
                continue  # dropped while an earlier renewal was on its way
            with contextlib.suppress(nats.errors.Error):
                await bus.leases.put(lease_key(LeaseHolder.AGENT, cluster), lease(cluster))
        await asyncio.sleep(1)


@pytest.fixture
async def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Fleet]:
    """An orchestrator serving twelve instances over three clusters, each with its PRIMARY in c1."""
    server = start_nats_server(tmp_path / "jetstream")
    bus = await connect(server.url, name="orchestrator-under-test")
    renewing = set(CLUSTERS)
    heartbeat = asyncio.create_task(renew(bus, renewing))
    for instance in INSTANCES:
        spec = StoredObject(
            api_version="middleware.fedstate.io/v1alpha1",
            kind="MultiCloudMongoDB",
            tenant=instance.tenant,
            metadata=ObjectMeta(name=instance.name, generation=1),
            spec={"replicaset": 3},
        )
        await bus.spec.put(instance.spec_key, spec)
        clusters = [ClusterAssignment(cluster=c, replicas=1, voters=1) for c in CLUSTERS]
        placement = Placement(spec_generation=1, mode="Uniform", clusters=clusters)
        await bus.placements.put(instance.placement_key, placement)
        for cluster in CLUSTERS:
            role = "PRIMARY" if cluster == "c1" else "SECONDARY"
            await bus.observed.put(instance.observed_key(cluster), report(cluster, role))
    settings = FederationSettings(failure_threshold_seconds=FAILURE_THRESHOLD_SECONDS)
    orchestrator = Orchestrator(bus, settings, Vault(KeyRing.generate()))
    worked = Worked(monkeypatch, orchestrator)
    running = asyncio.create_task(orchestrator.run())
    try:
        await until(lambda: len({name for name, _, _ in worked.served()}) == len(INSTANCES), "every instance served")
        yield Fleet(bus, worked, renewing)
    finally:
        for task in (running, heartbeat):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await orchestrator.controller.close()
        await bus.close()
        server.stop()


async def test_a_steady_fleet_is_rendered_once_and_a_change_is_worked_out_for_its_instance_alone(
    fleet: Fleet,
) -> None:
    bus, worked = fleet.bus, fleet.worked
    # Once the orchestrator's own writes are done, a scrape asks for nothing: the last rendering is served.
    await until(lambda: worked.work() == (0, 0), "a scrape of a steady fleet that works nothing out")
    assert (0, 0) == worked.work()

    changed = INSTANCES[0]
    await bus.observed.put(changed.observed_key("c2"), report("c2", "DOWN"))
    await until(lambda: worked.served().get((changed.name, "c2", "DOWN")) == 1, "the member DOWN on the next scrape")
    # The orchestrator writes the instance's status in turn; every scrape meanwhile works out that instance alone.
    for _ in range(20):
        _, instances = worked.work()
        assert instances <= 1, f"a scrape worked out instances that did not change: {instances}"
        await asyncio.sleep(0.05)
    assert all(worked.served().get((i.name, "c2", "SECONDARY")) == 1 for i in INSTANCES[1:])


async def test_an_agent_gone_silent_shows_at_the_next_scrape_for_every_instance_it_served(
    fleet: Fleet,
) -> None:
    bus, worked = fleet.bus, fleet.worked
    await until(lambda: worked.work() == (0, 0), "a scrape of a steady fleet that works nothing out")
    # A lease older than the failure threshold: its cluster's members count as DOWN wherever they are reported.
    fleet.renewing.discard("c3")
    silent = lease("c3", silent_for=timedelta(seconds=10 * FAILURE_THRESHOLD_SECONDS))
    await bus.leases.put(lease_key(LeaseHolder.AGENT, "c3"), silent)
    await until(lambda: all(worked.served().get((i.name, "c3", "DOWN")) == 1 for i in INSTANCES), "c3's members DOWN")
    assert all(worked.served().get((i.name, "c1", "PRIMARY")) == 1 for i in INSTANCES)
