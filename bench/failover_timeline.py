"""The pure half of ``bench/failover.py``: what the bus carried during a failover, read into its steps.

A ``Mark`` is one message the bench saw on the bus (a KV write or an event), with the time it arrived. For
one instance and one failed cluster, ``breakdown`` finds when each step was done:

- detected: the orchestrator's ``AgentSilent`` event naming the failed cluster (its agent's lease is older
  than the failure threshold; the scheduler marks the cluster not Ready on the same threshold, from the
  same lease (decision 0023), but writes nothing);
- decided: the first ``fs-placements`` write that puts no member in the failed cluster;
- new members Ready: the first ``fs-observed`` write after which the other clusters' agents report as many
  Ready members as the new placement holds;
- configured: the first ``fs-observed`` write whose newest replica-set config lists exactly those members,
  none of the failed cluster's, with as many voters as the placement asks;
- Health: the first ``fs-status`` write after the decision whose state is Health.

No I/O here, so ``tests/bench`` checks it with made-up timelines.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from fedstate.bus.envelope import InvalidValue, decode
from fedstate.bus.names import (
    Bucket,
    InstanceKey,
    LeaseHolder,
    events_subject_all,
    key_matches,
    kv_subject,
    lease_filter,
    lease_key,
)
from fedstate.bus.objects import StatusRecord
from fedstate.models.dataplane import DataPlaneStatus
from fedstate.models.events import Event
from fedstate.models.multicloud import InstanceState
from fedstate.models.placement import Placement

M = TypeVar("M", bound=BaseModel)
DETECTED_REASON = "AgentSilent"
STEPS = ("detected", "decided", "ready", "configured", "health")
STEP_TITLES = {
    "detected": "failure → detected (AgentSilent event)",
    "decided": "detected → decision (new placement written)",
    "ready": "decision → new members Ready (fs-observed)",
    "configured": "Ready → config steps done (fs-observed rs config)",
    "health": "configured → Health (fs-status)",
    "total": "failure → Health",
    "detectedPastThreshold": "of which: detected after the agent's lease expired",
    "decidedPastFailoverAfter": "of which: decided after failover-after expired",
}


@dataclass(frozen=True)
class Mark:
    at: float  # seconds (wall clock) when the bench received it
    subject: str
    data: bytes


@dataclass(frozen=True)
class Breakdown:
    """When each step of one instance's failover was done, in seconds after the failure (None: not seen)."""

    instance: str
    moved: int  # members the failed cluster held
    detected: float | None
    decided: float | None
    ready: float | None
    configured: float | None
    health: float | None

    def steps(self) -> dict[str, float | None]:
        """Each step's own duration (from the step before it), and the total."""
        marks = [0.0, self.detected, self.decided, self.ready, self.configured, self.health]
        durations: dict[str, float | None] = {}
        for step, before, after in zip(STEPS, marks, marks[1:], strict=False):
            durations[step] = after - before if after is not None and before is not None else None
        durations["total"] = self.health
        return durations

    def past_the_waits(self, silence: Silence) -> dict[str, float | None]:
        """The control plane's own part of detection and decision: how long after the configured wait ran out
        (counted from the failed cluster's last lease renewal) each came."""
        detected, decided = silence.agent_expired, silence.failover_due
        return {
            "detectedPastThreshold": self.detected - detected if self.detected is not None and detected else None,
            "decidedPastFailoverAfter": self.decided - decided if self.decided is not None and decided else None,
        }


@dataclass(frozen=True)
class Silence:
    """When, in seconds after the failure, the configured waits ran out: the agent's lease expired (failure
    threshold after its last renewal) and failover was due (failover-after after the cluster's last heartbeat)."""

    agent_expired: float | None
    failover_due: float | None


def silence(marks: Iterable[Mark], cluster: str, failed_at: float, threshold: float, failover_after: float) -> Silence:
    """From the failed cluster's last lease renewals (it renews none once failed: its API does not answer)."""
    last: dict[LeaseHolder, float] = {}
    for mark in marks:
        for holder in LeaseHolder:
            if mark.subject == kv_subject(Bucket.LEASES, lease_key(holder, cluster)):
                last[holder] = max(last.get(holder, mark.at), mark.at)
    agent, collector = last.get(LeaseHolder.AGENT), last.get(LeaseHolder.COLLECTOR)
    heartbeat = agent if agent is not None else collector  # the cluster's, as the scheduler reads it (decision 0023)
    return Silence(
        agent - failed_at + threshold if agent is not None else None,
        heartbeat - failed_at + failover_after if heartbeat is not None else None,
    )


def _key(mark: Mark, bucket: Bucket) -> str | None:
    """The KV key a mark wrote in ``bucket`` (None for another bucket, an event or a tombstone)."""
    prefix = kv_subject(bucket, "")
    return mark.subject.removeprefix(prefix) if mark.subject.startswith(prefix) and mark.data else None


def _decoded(mark: Mark, model: type[M]) -> M | None:
    try:
        return decode(mark.data, model)
    except InvalidValue:
        return None


def _holds(placement: Placement, cluster: str) -> bool:
    return any(a.cluster == cluster and (a.replicas or a.arbiter) for a in placement.clusters)


def _members(placement: Placement) -> int:
    return sum(a.replicas + int(a.arbiter) for a in placement.clusters)


def _voters(placement: Placement) -> int:
    return sum(a.voters for a in placement.clusters)


@dataclass
class _Reading:
    """What ``breakdown`` has read so far of one instance's marks."""

    instance: InstanceKey
    cluster: str
    found: dict[str, float] = field(default_factory=dict)  # step → seconds after the failure
    placement: Placement | None = None  # the last one before the failure, then the decision
    reports: dict[str, DataPlaneStatus] = field(default_factory=dict)  # every other cluster's latest

    def event(self, mark: Mark, after: float) -> None:
        event = _decoded(mark, Event)
        if after >= 0 and event is not None and event.reason == DETECTED_REASON and self.cluster in event.message:
            self.found.setdefault("detected", after)

    def placed(self, mark: Mark, after: float) -> None:
        placement = _decoded(mark, Placement)
        if placement is None or "decided" in self.found:
            return
        if after < 0:
            self.placement = placement
        elif placement.schedulable and not _holds(placement, self.cluster):
            self.found["decided"], self.placement = after, placement

    def observed(self, mark: Mark, reporter: str, after: float) -> None:
        report = _decoded(mark, DataPlaneStatus)
        if reporter == self.cluster or report is None:
            return
        self.reports[reporter] = report
        if "decided" in self.found and self.placement is not None:
            self._members_moved(self.placement, after)

    def _members_moved(self, placement: Placement, after: float) -> None:
        """Ready: the other clusters run every member of the new placement. Configured: the newest config the
        agents report lists exactly those members, with the voters the placement asks for."""
        running = {m.ordinal for r in self.reports.values() for m in r.members if m.ready}
        if len(running) >= _members(placement):
            self.found.setdefault("ready", after)
        configs = [r.rs_config for r in self.reports.values() if r.initiated and r.rs_config is not None]
        if "ready" not in self.found or not configs:
            return
        newest = max(configs, key=lambda c: c.version)
        listed = {m.id for m in newest.members}
        voters = sum(1 for m in newest.members if m.votes)
        if listed == running and len(listed) == _members(placement) and voters == _voters(placement):
            self.found.setdefault("configured", after)

    def status(self, mark: Mark, after: float) -> None:
        record = _decoded(mark, StatusRecord)
        healthy = (
            record is not None and record.multicloud is not None and record.multicloud.state == InstanceState.HEALTH
        )
        if healthy and "decided" in self.found:
            self.found.setdefault("health", after)


def breakdown(marks: Iterable[Mark], instance: InstanceKey, cluster: str, failed_at: float) -> Breakdown:
    """The steps of ``instance``'s failover off ``cluster``, failed at ``failed_at`` (seconds, wall clock)."""
    reading = _Reading(instance, cluster)
    moved: int | None = None
    for mark in sorted(marks, key=lambda m: m.at):
        after = mark.at - failed_at
        if moved is None and after >= 0:
            moved = reading.placement.replicas_by_cluster().get(cluster, 0) if reading.placement else 0
        if mark.subject == instance.events_subject:
            reading.event(mark, after)
        elif _key(mark, Bucket.PLACEMENTS) == instance.placement_key:
            reading.placed(mark, after)
        elif (key := _key(mark, Bucket.OBSERVED)) is not None and key_matches(f"*.{instance.placement_key}", key):
            reading.observed(mark, key.split(".", 1)[0], after)
        elif _key(mark, Bucket.STATUS) == instance.status_key:
            reading.status(mark, after)
    return Breakdown(str(instance), moved or 0, *(reading.found.get(step) for step in STEPS))


def lease_renewals(marks: Iterable[Mark], since: float, until: float) -> float:
    """Member-cluster lease writes (collectors' and agents') per second between ``since`` and ``until``."""
    filters = [kv_subject(Bucket.LEASES, lease_filter(holder)) for holder in LeaseHolder]
    count = sum(1 for m in marks if since <= m.at < until and any(key_matches(f, m.subject) for f in filters))
    return count / (until - since) if until > since else 0.0


def false_alarms(marks: Iterable[Mark], failed: str, clusters: Iterable[str]) -> list[str]:
    """``AgentSilent`` messages that name a cluster other than the failed one: a healthy cluster judged silent."""
    others = [c for c in clusters if c != failed]
    told = []
    for mark in marks:
        if not key_matches(events_subject_all(), mark.subject):
            continue
        event = _decoded(mark, Event)
        if event is not None and event.reason == DETECTED_REASON and any(c in event.message for c in others):
            told.append(f"{event.instance}: {event.message}")
    return told


# ------------------------------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Row:
    step: str
    median: float | None
    max: float | None
    seen: int  # instances the step was seen for


def summary(measured: Sequence[dict[str, float | None]]) -> list[Row]:
    """Median and max of each figure (step, total, lag) over every instance of every run."""
    rows = []
    for step in STEP_TITLES:
        values = [v for m in measured if (v := m.get(step)) is not None]
        rows.append(Row(step, statistics.median(values) if values else None, max(values, default=None), len(values)))
    return rows


def table(rows: Sequence[Row], instances: int, load: str) -> str:
    """The summary as a Markdown table, the machine's load average in its header."""

    def cell(value: float | None) -> str:
        return f"{value:.1f} s" if value is not None else "—"

    lines = [f"| step (load avg {load}) | median | max | seen |", "|---|---|---|---|"]
    lines += [f"| {STEP_TITLES[r.step]} | {cell(r.median)} | {cell(r.max)} | {r.seen}/{instances} |" for r in rows]
    return "\n".join(lines)
