"""The spans file holds, for every span, the document OpenTelemetry's ``ReadableSpan.to_json`` writes (what
``fedstate trace`` and anyone's tools read), though the file exporter encodes the process's resource only once."""

from __future__ import annotations

import json
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import Link, Status, StatusCode

from fedstate.telemetry import SpanLines, tracer_provider


class Kept(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def test_each_line_is_the_sdk_s_own_document_of_the_span() -> None:
    provider = tracer_provider("span-lines", None)
    kept = Kept()
    provider.add_span_processor(kept)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("parent", kind=trace.SpanKind.SERVER) as parent:
        link = Link(parent.get_span_context(), {"why": "linked"})
        with tracer.start_as_current_span("child", links=[link], attributes={"key": "k", "tries": [1, 2]}) as child:
            child.add_event("looked", {"at": "members"})
            child.set_status(Status(StatusCode.ERROR, "refused"))
    lines = SpanLines()
    assert 2 == len(kept.spans)
    for span in kept.spans:
        written = lines(span)
        assert written.endswith("\n") and 1 == written.count("\n")
        assert json.loads(span.to_json(indent=None)) == json.loads(written)


def test_the_file_of_a_service_holds_one_such_line_per_span(tmp_path: Path) -> None:
    spans_file = tmp_path / "spans" / "svc.jsonl"
    provider = tracer_provider("svc", spans_file)
    with provider.get_tracer("test").start_as_current_span("work", attributes={"key": "a.b"}):
        pass
    provider.shutdown()
    [line] = spans_file.read_text().splitlines()
    document = json.loads(line)
    assert ("work", "svc", {"key": "a.b"}) == (
        document["name"],
        document["resource"]["attributes"]["service.name"],
        document["attributes"],
    )
