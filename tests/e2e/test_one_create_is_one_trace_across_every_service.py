"""The spans of one create form one trace, from the gateway's write through the intake, the scheduler and the
orchestrator to the agent of every member cluster, up to the orchestrator's pass that finds the set Health;
the messaging spans name subject templates, never one instance's subject."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from fedstate.cli.localstack import LocalStack

from .invariants import apply, wait_settled, wait_until

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


def services_of(trace: list[Span]) -> set[str]:
    return {s["service"] for s in trace}


def test_the_spans_of_one_create_form_one_trace_across_every_service(stack: LocalStack) -> None:
    apply(stack, NAME, "{replicaset: 3}")
    status = wait_settled(stack, NAME)
    holding = {result["cluster"] for result in status["result"]}
    agents = {f"agent-{cluster}" for cluster in holding}
    wanted = {"fedstate-gateway", "federation", "scheduler"} | agents

    def health_reached() -> bool:
        trace = trace_of_the_create(spans(stack))
        return wanted <= services_of(trace) and any(s["attributes"].get("fedstate.state") == "Health" for s in trace)

    # Spans are exported in batches, a few seconds after they end.
    wait_until(health_reached, "the create's trace to reach Health in every service", timeout=60)
    trace = trace_of_the_create(spans(stack))
    by_id = {s["context"]["span_id"]: s for s in trace}
    roots = [s for s in trace if s["parent_id"] is None or s["parent_id"] not in by_id]
    assert [("fedstate-gateway", None)] == [(s["service"], s["parent_id"]) for s in roots], "one root: the REST call"
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
