"""The pure half of ``bench/e2e.py --steps``: one quiet create, read into the steps of its way to Health.

A create's trace (its spans, in every service's span file) says when each service acted on it; the simulator's
log says when Kubernetes and MongoDB did their part. ``marks`` puts both on one clock, in milliseconds after the
PUT, and ``steps`` turns them into the time each step took:

- the gateway and the intake: the PUT until the spec is written (the federation's ``fs-spec`` write starts);
- the scheduler: until the placement is written;
- the orchestrator: until the clusters' specs are written;
- the agents' wake-up: until the last cluster's agent starts its first pass;
- the agents' applies and the StatefulSet controller: until the last pod is created;
- the pods' start (Kubernetes', taken off the control plane's own time): until the last member started;
- the agents' look: until the last report before the initiation is written;
- the orchestrator: until the initiator's spec is written;
- the initiator's agent, through ``pods/exec``: until ``replSetInitiate``;
- MongoDB (taken off): the election and the initial syncs;
- the agents: until the last report before the pass that finds Health;
- the orchestrator: until that pass starts, and until it writes the status;
- the gateway: until the client's watch shows Health.

No I/O here, so ``tests/bench`` checks it with made-up timelines.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fedstate.bus.names import Bucket, kv_subject

Span = Mapping[str, Any]

# Each mark, in the order of a create's way; a step runs from the mark before it to its own.
MARKS = (
    "specWritten",
    "placed",
    "clustersTold",
    "agentsWoke",
    "podsCreated",
    "membersStarted",
    "readyReported",
    "initiationOrdered",
    "initiated",
    "databaseDone",
    "lastReport",
    "healthPass",
    "statusWritten",
    "seen",
)
STEP_TITLES = {
    "specWritten": "PUT → spec written (gateway, intake)",
    "placed": "→ placement written (scheduler)",
    "clustersTold": "→ clusters' specs written (orchestrator)",
    "agentsWoke": "→ last agent's first pass",
    "podsCreated": "→ last pod created (agents' applies, StatefulSet controller)",
    "membersStarted": "→ last member started (pods' start, Kubernetes': taken off)",
    "readyReported": "→ last ready report (agents)",
    "initiationOrdered": "→ initiator's spec written (orchestrator)",
    "initiated": "→ replSetInitiate (initiator's agent, pods/exec)",
    "databaseDone": "→ PRIMARY elected, secondaries synced (MongoDB: taken off)",
    "lastReport": "→ last report before Health (agents: roles, users)",
    "healthPass": "→ the orchestrator's pass that finds Health",
    "statusWritten": "→ Health status written",
    "seen": "→ the client's watch shows Health (gateway)",
}
TAKEN_OFF = ("membersStarted", "databaseDone")


POD_AGE = re.compile(r"started member .*, ([0-9.]+) ms after its pod was created")


@dataclass
class SimulatorMarks:
    """One instance's part in the simulator's log, in seconds (wall clock)."""

    pods_created: list[float] = field(default_factory=list)
    members_started: list[float] = field(default_factory=list)
    initiated: float | None = None  # replSetInitiate
    database_marks: list[float] = field(default_factory=list)  # PRIMARY elected, each initial sync done


@dataclass(frozen=True)
class SimulatedWaits:
    """Per instance, the seconds the simulator played Kubernetes and MongoDB while the control plane waited."""

    pods: dict[str, float]  # the last pod created → the last member started
    database: dict[str, float]  # replSetInitiate → PRIMARY elected and every secondary synced


def simulator_marks(log_lines: Iterable[str], names: Iterable[str]) -> dict[str, SimulatorMarks]:
    """Per instance, from the simulated members' log lines: each pod's creation and its member's start, the set's
    replSetInitiate, its election and the initial syncs."""
    found = {name: SimulatorMarks() for name in names}
    for line in log_lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        message = record.get("message", "")
        name = next((n for n in found if f"/{n}-m" in message), None)
        if name is None:
            continue
        at, marks = _at(record["time"]), found[name]
        if (age := POD_AGE.search(message)) is not None:
            marks.members_started.append(at)
            marks.pods_created.append(at - float(age.group(1)) / 1000)
        elif "(replSetInitiate)" in message and marks.initiated is None:
            marks.initiated = at
        elif "now PRIMARY" in message or "initial sync from" in message:
            marks.database_marks.append(at)
    return found


def simulated_waits(log_lines: Iterable[str], names: Iterable[str]) -> SimulatedWaits:
    """What the bench takes off each create's time. The pods' wait counts only from the last pod's creation:
    before, the control plane had not written every member's StatefulSet yet."""
    marks = simulator_marks(log_lines, names)
    return SimulatedWaits(
        pods={
            name: max(0.0, max(m.members_started) - max(m.pods_created))
            for name, m in marks.items()
            if m.members_started
        },
        database={
            name: max(m.database_marks) - m.initiated
            for name, m in marks.items()
            if m.initiated is not None and m.database_marks
        },
    )


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _publishes(trace: Sequence[Span], bucket: Bucket) -> list[Span]:
    prefix = kv_subject(bucket, "")
    return [s for s in trace if s["name"].startswith(f"publish {prefix}")]


def _first_start(spans: Iterable[Span], after: float = float("-inf")) -> float | None:
    return min((t for s in spans if (t := _at(s["start_time"])) >= after), default=None)


def _last_start(spans: Iterable[Span], before: float) -> float | None:
    return max((t for s in spans if (t := _at(s["start_time"])) <= before), default=None)


def _service(span: Span) -> str:
    return str(span["resource"]["attributes"]["service.name"])


def marks(trace: Sequence[Span], simulator: SimulatorMarks, put: float, seen: float) -> dict[str, float | None]:
    """When each of ``MARKS`` happened, in ms after ``put`` (None: not in the trace or the log)."""
    dataplane, observed = _publishes(trace, Bucket.DATAPLANE), _publishes(trace, Bucket.OBSERVED)
    passes = [s for s in trace if s["name"].startswith("reconcile ")]
    agents: dict[str, float] = {}
    for span in passes:
        if _service(span).startswith("agent-"):
            agents[_service(span)] = min(agents.get(_service(span), float("inf")), _at(span["start_time"]))
    started = max(simulator.members_started, default=None)
    ordered = _first_start(dataplane, after=started) if started is not None else None
    health = min(
        (_at(s["start_time"]) for s in passes if s["attributes"].get("fedstate.state") == "Health"), default=None
    )
    done = max(simulator.database_marks, default=None)
    at: dict[str, float | None] = {
        "specWritten": _first_start(_publishes(trace, Bucket.SPEC)),
        "placed": _first_start(_publishes(trace, Bucket.PLACEMENTS)),
        "clustersTold": _first_start(dataplane),
        "agentsWoke": max(agents.values(), default=None),
        "podsCreated": max(simulator.pods_created, default=None),
        "membersStarted": started,
        "readyReported": _last_start(observed, before=ordered) if ordered is not None else None,
        "initiationOrdered": ordered,
        "initiated": simulator.initiated,
        "databaseDone": done,
        "lastReport": _last_start(observed, before=health) if health is not None else None,
        "healthPass": health,
        "statusWritten": _first_start(_publishes(trace, Bucket.STATUS), after=health) if health is not None else None,
        "seen": seen,
    }
    if done is not None and at["lastReport"] is not None and at["lastReport"] < done:
        at["lastReport"] = None  # no report after the database's part: the trace is missing spans
    return {name: (t - put) * 1000 if t is not None else None for name, t in at.items()}


def steps(at: Mapping[str, float | None]) -> dict[str, float | None]:
    """Each step's duration in ms: from the mark before it (the PUT, for the first) to its own."""
    durations: dict[str, float | None] = {}
    before: float | None = 0.0
    for name in MARKS:
        now = at.get(name)
        durations[name] = now - before if now is not None and before is not None else None
        before = now
    return durations


def summary(per_create: Sequence[Mapping[str, float | None]]) -> list[dict[str, Any]]:
    """Per step, the median and p90 over the creates that have it (ms), with its title."""
    rows = []
    for name in MARKS:
        values = sorted(v for d in per_create if (v := d.get(name)) is not None)
        rows.append(
            {
                "step": STEP_TITLES[name],
                "takenOff": name in TAKEN_OFF,
                "creates": len(values),
                "medianMs": round(statistics.median(values), 2) if values else None,
                "p90Ms": round(values[min(len(values) - 1, round(0.9 * (len(values) - 1)))], 2) if values else None,
            }
        )
    return rows
