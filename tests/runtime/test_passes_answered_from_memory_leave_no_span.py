"""A reconcile pass answered from memory (a safety resync whose inputs had not moved since a pass that changed
nothing) is marked on its span, and that span is not exported: the spans file and the OTLP collector get the
passes that did work, not one line per instance and safety period that says nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fedstate.reconcile import Controller, Result, resync_after
from fedstate.telemetry import FROM_MEMORY, tracer_provider
from tests.spans import in_memory_spans


async def test_the_controller_marks_the_span_of_a_pass_answered_from_memory() -> None:
    spans = in_memory_spans()

    async def reconcile(key: str) -> Result:
        return resync_after(60, from_memory=key == "remembered")

    controller = Controller("memory-test", reconcile)
    controller.enqueue("remembered")
    controller.enqueue("worked")
    await asyncio.sleep(0.1)
    await controller.close()
    marked = {
        span.attributes["key"]: bool(span.attributes.get(FROM_MEMORY))
        for span in spans.get_finished_spans()
        if span.name == "reconcile memory-test" and span.attributes is not None
    }
    assert {"remembered": True, "worked": False} == marked


def test_spans_of_passes_answered_from_memory_are_not_written(tmp_path: Path) -> None:
    spans_file = tmp_path / "agent.jsonl"
    provider = tracer_provider("agent", spans_file)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("reconcile agent", attributes={"key": "worked"}):
        pass
    with tracer.start_as_current_span("reconcile agent", attributes={"key": "remembered"}) as span:
        span.set_attribute(FROM_MEMORY, True)
    provider.shutdown()
    written = [json.loads(line)["attributes"]["key"] for line in spans_file.read_text().splitlines()]
    assert ["worked"] == written
