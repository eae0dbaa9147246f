"""The spans of one create form one trace, from the gateway's write through the intake, the scheduler and the
orchestrator to the agent of every member cluster, up to the orchestrator's pass that finds the set Health;
the messaging spans name subject templates, never one instance's subject."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from fedstate.cli.localstack import LocalStack

from .invariants import apply, wait_settled

NAME = "traced"
Span = dict[str, Any]


def spans(stack: LocalStack) -> list[Span]:
    """Every span the stack's services exported so far (each service writes ``.fedstate/spans/<service>.jsonl``)."""
    found = []
    for path in sorted(stack.paths.spans.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                span = json.loads(line)
                span["service"] = span["resource"]["attributes"]["service.name"]
                found.append(span)
    return found


def trace_of_the_create(every: list[Span]) -> list[Span]:
    """The spans in the trace of the gateway's span for the create (none until the gateway exported it)."""
    started = {
        s["context"]["trace_id"]
        for s in every
        if s["name"] == "apply MultiCloudMongoDB" and s["attributes"].get("fedstate.name") == NAME
    }
    assert len(started) <= 1, "one gateway span for the create"
    return [s for s in every if s["context"]["trace_id"] in started]


def roots(trace: list[Span]) -> list[Span]:
    """The spans whose parent is not in the trace: one alone, the gateway's, when the trace is whole."""
    ids = {s["context"]["span_id"] for s in trace}
    return [s for s in trace if s["parent_id"] not in ids]


def services_of(trace: list[Span]) -> set[str]:
    return {s["service"] for s in trace}


def test_the_spans_of_one_create_form_one_trace_across_every_service(stack: LocalStack) -> None:
    apply(stack, NAME, "{replicaset: 3}")
    status = wait_settled(stack, NAME)
    holding = {result["cluster"] for result in status["result"]}
    agents = {f"agent-{cluster}" for cluster in holding}
    wanted = {"fedstate-gateway", "federation", "scheduler"} | agents

    def complete(trace: list[Span]) -> bool:
        """Health reached in every service, and every span's parent exported (a parent ends after its children)."""
        reached = any(s["attributes"].get("fedstate.state") == "Health" for s in trace)
        return wanted <= services_of(trace) and reached and len(roots(trace)) == 1

    # Spans are exported in batches, a few seconds after they end: wait for a moment the trace is whole.
    deadline = time.monotonic() + 60
    while not complete(trace := trace_of_the_create(spans(stack))) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert wanted <= services_of(trace)
    assert any(s["attributes"].get("fedstate.state") == "Health" for s in trace)
    assert [("fedstate-gateway", None)] == [(s["service"], s["parent_id"]) for s in roots(trace)], (
        "one root: the REST call"
    )
    kinds: dict[str, set[str]] = defaultdict(set)
    for span in trace:
        kinds[span["service"]].add(span["name"].split(" ")[0])
    assert {"publish", "request"} & kinds["fedstate-gateway"]
    assert {"process", "publish"} <= kinds["federation"]  # the intake answered and stored the spec
    assert {"reconcile", "publish"} <= kinds["scheduler"]  # the placement written
    assert all("reconcile" in kinds[agent] for agent in agents)
    messaging = [s for s in trace if "messaging.system" in s["attributes"]]
    assert {"nats"} == {s["attributes"]["messaging.system"] for s in messaging}
    destinations = {s["attributes"]["messaging.destination.name"] for s in messaging}
    assert "fedstate.v1.intake.{tenant}" in destinations
    assert "$KV.fs-dataplane.{cluster}.{tenant}.{namespace}.{name}" in destinations
    assert [] == [d for d in destinations if NAME in d], "destinations are templates, not one instance's subject"
    assert {"send", "process"} == {s["attributes"]["messaging.operation.type"] for s in messaging}
