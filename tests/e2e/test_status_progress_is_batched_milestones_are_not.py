"""An instance's status is written at once when it changes the way a client waits for — its state, its
observedGeneration, a condition appearing or turning (what ``fedstate wait --for`` and ``kubectl wait`` watch) —
and otherwise, while its members start one report after another, at most every ``status_progress_seconds``:
every write wakes every watcher (the gateway's watches, the CRD bridge, dashboards)."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from fedstate.bus.names import Bucket, InstanceKey, Kind, kv_subject
from fedstate.cli.localstack import LocalStack
from fedstate.models.multicloud import MultiCloudMongoDBStatus
from fedstate_federation.domain.status import is_milestone
from fedstate_federation.settings import FederationSettings

from .bus_tap import BusListener
from .invariants import apply, wait_settled

PROGRESS_SECONDS = FederationSettings.model_fields["status_progress_seconds"].default
JITTER_SECONDS = 0.15  # how much closer two writes may arrive here than they were made


@dataclass(frozen=True)
class Written:
    at: float  # when it reached this subscriber (monotonic)
    status: MultiCloudMongoDBStatus


class StatusWrites(BusListener):
    """Every write of one status key, as it is published, with the time it arrived."""

    def __init__(self, stack: LocalStack, name: str) -> None:
        super().__init__(stack)
        self._subject = kv_subject(
            Bucket.STATUS, InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, name).status_key
        )
        self.writes: list[Written] = []

    async def follow(self, nc: NATS) -> None:
        async def record(msg: Msg) -> None:
            if msg.data:
                status = MultiCloudMongoDBStatus.model_validate(json.loads(msg.data)["data"]["multicloud"])
                self.writes.append(Written(time.monotonic(), status))

        await nc.subscribe(self._subject, cb=record)


def test_a_new_set_s_progress_is_written_at_most_every_half_second_and_its_milestones_at_once(
    stack: LocalStack,
) -> None:
    with StatusWrites(stack, "batched") as tap:
        apply(stack, "batched", "{replicaset: 5}")
        wait_settled(stack, "batched")
        time.sleep(2 * PROGRESS_SECONDS)  # any progress held back is written by now
    writes = tap.writes
    assert writes and writes[-1].status.state == "Health"
    progress = [(a, b) for a, b in itertools.pairwise(writes) if not is_milestone(a.status, b.status)]
    too_soon = [
        f"{b.at - a.at:.3f}s after the write before: {b.status.result}"
        for a, b in progress
        if b.at - a.at < PROGRESS_SECONDS - JITTER_SECONDS
    ]
    assert [] == too_soon, "progress written sooner than every half second"
    # The rule above was put to the test: five members starting make progress that is not a milestone.
    assert progress, [w.status.state for w in writes]
    # Every state the set went through was written, in order: Creating until it was first Health.
    states = [w.status.state for w in writes]
    assert ["Creating", "Health"] == [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


class StatusReportsSpecs(BusListener):
    """One instance's status writes (their state), its agents' reports and its clusters' spec writes, in the
    order the bus received them: a subscriber gets each connection's messages in order, and an agent's report
    reaches it before the orchestrator can act on it."""

    def __init__(self, stack: LocalStack, name: str) -> None:
        super().__init__(stack)
        self._instance = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, name)
        self.sent: list[str] = []

    async def follow(self, nc: NATS) -> None:
        async def status(msg: Msg) -> None:
            if msg.data:
                self.sent.append(json.loads(msg.data)["data"]["multicloud"]["state"])

        async def tagged(msg: Msg) -> None:
            self.sent.append("report" if msg.subject.startswith(kv_subject(Bucket.OBSERVED, "")) else "spec")

        await nc.subscribe(kv_subject(Bucket.STATUS, self._instance.status_key), cb=status)
        for bucket in (Bucket.OBSERVED, Bucket.DATAPLANE):
            await nc.subscribe(kv_subject(bucket, self._instance.dataplane_key("*")), cb=tagged)


def test_the_pass_that_finds_a_new_set_health_writes_its_status_before_its_clusters_specs(stack: LocalStack) -> None:
    """Someone waits for Health (``fedstate wait``, the custom resource's state column); the clusters' specs the
    same pass writes only tell their agents that the users exist. Written together, their acknowledgments and the
    agents' passes they woke held the status back a few milliseconds."""
    with StatusReportsSpecs(stack, "first-health") as tap:
        apply(stack, "first-health", "{replicaset: 3}")
        wait_settled(stack, "first-health")
    sent = tap.sent
    health = sent.index("Health")
    news = max(i for i, what in enumerate(sent[:health]) if what == "report")  # what the Health pass read
    assert "spec" not in sent[news:health], sent
