"""``bench/e2e.py --steps``: a create's trace and the simulator's marks, read into the steps of its way to Health
(made-up spans, no stack)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bench.create_timeline import MARKS, SimulatorMarks, marks, steps, summary

PUT = datetime(2026, 12, 7, 9, tzinfo=UTC)


def at(ms: float) -> float:
    return (PUT + timedelta(milliseconds=ms)).timestamp()


def span(service: str, name: str, ms: float, **attributes: str) -> dict[str, Any]:
    start = PUT + timedelta(milliseconds=ms)
    return {
        "name": name,
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(milliseconds=0.5)).isoformat(),
        "attributes": attributes,
        "resource": {"attributes": {"service.name": service}},
    }


def publish(service: str, bucket: str, ms: float) -> dict[str, Any]:
    return span(service, f"publish $KV.{bucket}.{{tenant}}.{{namespace}}.{{name}}", ms)


TRACE = [
    span("fedstate-gateway", "PUT /apis/…/multicloudmongodbs/{name}", 1),
    publish("federation", "fs-spec", 5),
    span("federation", "reconcile orchestrator", 6, **{"fedstate.state": "Creating"}),
    publish("federation", "fs-status", 8),  # the Creating status: not the one that says Health
    publish("scheduler", "fs-placements", 10),
    *(publish("federation", "fs-dataplane", 12) for _ in range(3)),
    span("agent-member-1", "reconcile agent-member-1", 13),
    span("agent-member-2", "reconcile agent-member-2", 15),  # the last cluster to start
    span("agent-member-2", "reconcile agent-member-2", 24),  # not a first pass
    span("agent-member-3", "reconcile agent-member-3", 14),
    publish("agent-member-1", "fs-observed", 30),
    publish("agent-member-2", "fs-observed", 32),
    publish("federation", "fs-dataplane", 35),  # the initiator's spec
    publish("agent-member-3", "fs-observed", 50),  # after the order: says the set is initiated
    publish("agent-member-2", "fs-observed", 700),
    publish("agent-member-1", "fs-observed", 705),  # the primary's: users ready
    span("federation", "reconcile orchestrator", 706, **{"fedstate.state": "Health"}),
    publish("federation", "fs-status", 707),
    publish("federation", "fs-dataplane", 708),
]
SIMULATOR = SimulatorMarks(
    pods_created=[at(20), at(22), at(18)],
    members_started=[at(25), at(27), at(21)],
    initiated=at(40),
    database_marks=[at(300), at(690), at(688)],
)


def test_each_mark_is_the_step_of_the_creates_way_that_it_names() -> None:
    found = marks(TRACE, SIMULATOR, put=PUT.timestamp(), seen=at(710))
    expected = {
        "specWritten": 5,
        "placed": 10,
        "clustersTold": 12,
        "agentsWoke": 15,
        "podsCreated": 22,
        "membersStarted": 27,
        "readyReported": 32,
        "initiationOrdered": 35,
        "initiated": 40,
        "databaseDone": 690,
        "lastReport": 705,
        "healthPass": 706,
        "statusWritten": 707,
        "seen": 710,
    }
    assert found.keys() == set(MARKS)
    assert {name: round(ms or -1, 3) for name, ms in found.items()} == expected


def test_the_steps_add_up_to_the_time_the_client_saw_health() -> None:
    durations = steps(marks(TRACE, SIMULATOR, put=PUT.timestamp(), seen=at(710)))
    assert round(durations["podsCreated"] or -1, 3) == 7  # the last agent's first pass → the last pod
    assert round(durations["databaseDone"] or -1, 3) == 650  # replSetInitiate → the last secondary synced
    assert round(sum(d for d in durations.values() if d is not None), 3) == 710


def test_a_create_whose_trace_lacks_its_health_pass_has_no_steps_after_the_database() -> None:
    """Spans not exported yet, or a create that never got there: its later steps are unknown, not zero, and the
    summary counts only the creates that have each step."""
    cut = [s for s in TRACE if s["attributes"].get("fedstate.state") != "Health"]
    partial = steps(marks(cut, SIMULATOR, put=PUT.timestamp(), seen=at(710)))
    assert partial["lastReport"] is partial["healthPass"] is partial["statusWritten"] is partial["seen"] is None
    assert partial["initiated"] is not None
    whole = steps(marks(TRACE, SIMULATOR, put=PUT.timestamp(), seen=at(710)))
    rows = {row["step"]: row for row in summary([whole, partial])}
    assert rows["→ Health status written"]["creates"] == 1
    assert rows["PUT → spec written (gateway, intake)"]["creates"] == 2
    taken_off = [row["step"] for row in rows.values() if row["takenOff"]]
    assert len(taken_off) == 2 and all("taken off" in step for step in taken_off)
