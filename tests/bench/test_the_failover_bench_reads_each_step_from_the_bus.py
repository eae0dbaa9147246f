"""bench/failover.py's reading of a failover: which message on the bus ends which step (no stack, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from bench.failover_timeline import Mark, breakdown, false_alarms, lease_renewals, silence, summary
from fedstate.bus.envelope import encode
from fedstate.bus.names import Bucket, InstanceKey, Kind, LeaseHolder, kv_subject, lease_key
from fedstate.bus.objects import StatusRecord
from fedstate.models.dataplane import DataPlaneStatus, MemberObservation
from fedstate.models.events import Event
from fedstate.models.lease import Lease
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate.models.replicaset import RsConfig, RsMember

INSTANCE = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, "db")
FAILED_AT = 1000.0
NOW = datetime(2026, 12, 4, tzinfo=UTC)
# 2+1+1+1 before (member-1 holds m0 and m1), 2+2+1 after (m5 and m6 replace them).
BEFORE = {"member-1": [0, 1], "member-2": [2], "member-3": [3], "member-4": [4]}
AFTER = {"member-2": [2, 5], "member-3": [3, 6], "member-4": [4]}


def mark(at: float, subject: str, value: BaseModel) -> Mark:
    return Mark(FAILED_AT + at, subject, encode(value))


def placement(at: float, layout: dict[str, list[int]]) -> Mark:
    clusters = [ClusterAssignment(cluster=c, replicas=len(o), voters=len(o)) for c, o in layout.items()]
    value = Placement(spec_generation=1, mode="Uniform", clusters=clusters)
    return mark(at, kv_subject(Bucket.PLACEMENTS, INSTANCE.placement_key), value)


def event(at: float, reason: str, message: str) -> Mark:
    value = Event(instance=str(INSTANCE), reason=reason, message=message, component="federation", time=NOW)
    return mark(at, INSTANCE.events_subject, value)


def observed(at: float, cluster: str, ready: list[int], version: int, config: list[int], voting: list[int]) -> Mark:
    """A cluster's report: its Ready members, and the replica-set config (version, members, voters) it saw."""
    members = [MemberObservation(ordinal=o, name=f"db-m{o}", ready=True) for o in ready]
    listed = [RsMember.model_validate({"_id": o, "host": f"h:{o}", "votes": int(o in voting)}) for o in config]
    rs = RsConfig.model_validate({"_id": "db", "version": version, "members": listed})
    value = DataPlaneStatus(cluster=cluster, members=members, initiated=True, rs_config=rs, observed_at=NOW)
    return mark(at, kv_subject(Bucket.OBSERVED, INSTANCE.observed_key(cluster)), value)


def status(at: float, state: InstanceState) -> Mark:
    value = StatusRecord(kind="MultiCloudMongoDB", multicloud=MultiCloudMongoDBStatus(state=state))
    return mark(at, kv_subject(Bucket.STATUS, INSTANCE.status_key), value)


def failover() -> list[Mark]:
    """A failover of member-1 as the bus tells it, with the messages that must not end a step among them."""
    return [
        placement(-60, BEFORE),
        *(observed(-55, c, o, 1, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]) for c, o in BEFORE.items()),
        status(-50, InstanceState.HEALTH),
        event(1.0, "AgentSilent", "no heartbeat from the dataplane-agent of member-2 since …"),  # not the failed one
        event(3.5, "AgentSilent", "no heartbeat from the dataplane-agent of member-1 since …"),
        status(3.6, InstanceState.SUB_HEALTH),
        status(5.0, InstanceState.HEALTH),  # before any decision: not the end
        placement(8.0, BEFORE),  # written again, still holding the failed cluster's members: not the decision
        placement(12.5, AFTER),
        observed(12.6, "member-1", [0, 1], 1, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]),  # the failed cluster's stale report
        observed(12.7, "member-2", [2, 5], 2, [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4]),
        observed(12.9, "member-3", [3, 6], 3, [0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4]),  # every new member Ready
        observed(13.0, "member-3", [3, 6], 5, [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]),  # five, but not these five
        observed(13.1, "member-4", [4], 8, [2, 3, 4, 5, 6], [2, 3, 4, 5]),  # old ones gone, one voter short
        observed(13.8, "member-2", [2, 5], 9, [2, 3, 4, 5, 6], [2, 3, 4, 5, 6]),  # the last promotion
        status(14.0, InstanceState.HEALTH),
    ]


def test_each_step_ends_with_the_message_that_says_so() -> None:
    """Detection is the failed cluster's AgentSilent, the decision the placement without it, Ready and
    configured come from the other clusters' reports, and Health is the first Health after the decision."""
    got = breakdown(failover(), INSTANCE, "member-1", FAILED_AT)
    assert ("default/default/db", 2) == (got.instance, got.moved)
    steps = {step: round(seconds, 2) for step, seconds in got.steps().items() if seconds is not None}
    assert {"detected": 3.5, "decided": 9.0, "ready": 0.4, "configured": 0.9, "health": 0.2, "total": 14.0} == steps


def test_a_failover_that_did_not_finish_has_no_later_steps() -> None:
    """Without the new placement, nothing after the detection happened, however the status looked."""
    marks = [m for m in failover() if not (m.subject.startswith("$KV.fs-placements") and m.at > FAILED_AT)]
    got = breakdown(marks, INSTANCE, "member-1", FAILED_AT)
    assert (3.5, None, None, None, None) == (got.detected, got.decided, got.ready, got.configured, got.health)
    rows = {row.step: row.seen for row in summary([got.steps()])}
    assert (1, 0, 0) == (rows["detected"], rows["decided"], rows["total"])


def test_an_agent_silent_elsewhere_is_a_false_alarm() -> None:
    told = false_alarms(failover(), "member-1", ["member-1", "member-2", "member-3", "member-4"])
    assert ["default/default/db: no heartbeat from the dataplane-agent of member-2 since …"] == told


def test_lease_writes_are_counted_per_second() -> None:
    """Collectors' and agents' renewals count; a leader's lease is no member cluster's heartbeat."""
    lease = Lease(holder="member-1", component=LeaseHolder.AGENT, renewed_at=NOW, renew_every_seconds=1)
    renewals = [mark(t, kv_subject(Bucket.LEASES, lease_key(LeaseHolder.AGENT, "member-1")), lease) for t in range(10)]
    leader = mark(5, kv_subject(Bucket.LEASES, "leader.scheduler._all"), lease)
    assert 1.0 == lease_renewals([*renewals, leader], FAILED_AT, FAILED_AT + 10)


def renewal(at: float, holder: LeaseHolder, cluster: str) -> Mark:
    lease = Lease(holder=cluster, component=holder, renewed_at=NOW, renew_every_seconds=1)
    return mark(at, kv_subject(Bucket.LEASES, lease_key(holder, cluster)), lease)


def test_the_waits_run_from_the_failed_clusters_last_renewals() -> None:
    """Detection is due a failure threshold after the failed cluster's agent last renewed its lease, failover
    failover-after after it (the cluster's heartbeat, decision 0023); what comes later is the control plane's
    own time."""
    leases = [
        *(renewal(t, LeaseHolder.AGENT, "member-1") for t in (-2.7, -1.7, -0.7)),
        *(renewal(t, LeaseHolder.COLLECTOR, "member-1") for t in (-1.8, -0.8)),
        renewal(-0.1, LeaseHolder.COLLECTOR, "member-2"),  # another cluster's
    ]
    quiet = silence(leases, "member-1", FAILED_AT, threshold=4, failover_after=12)
    got = breakdown(failover(), INSTANCE, "member-1", FAILED_AT).past_the_waits(quiet)
    assert {"detectedPastThreshold": 0.2, "decidedPastFailoverAfter": 1.2} == {
        k: round(v or 0, 2) for k, v in got.items()
    }
