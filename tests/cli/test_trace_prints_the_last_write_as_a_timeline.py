"""``fedstate trace mcm NAME`` reads the stack's span files and prints the trace of the object's newest write:
every span of it, from any service, in the order they started, with when and how long; nothing of other traces."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fedstate.cli.main import app


def span(trace: int, service: str, name: str, start: float, seconds: float, **attributes: str) -> str:
    def at(offset: float) -> str:
        return f"2026-12-04T10:00:{offset:09.6f}Z"

    return json.dumps(
        {
            "name": name,
            "context": {"trace_id": f"0x{trace:032x}", "span_id": "0x1"},
            "start_time": at(start),
            "end_time": at(start + seconds),
            "attributes": attributes,
            "resource": {"attributes": {"service.name": service}},
        }
    )


def write_spans(root: Path) -> None:
    spans = root / ".fedstate" / "spans"
    spans.mkdir(parents=True)
    web = {"fedstate.name": "web", "fedstate.namespace": "default"}
    (spans / "gateway.jsonl").write_text(
        "\n".join(
            [
                span(1, "fedstate-gateway", "apply MultiCloudMongoDB", 1.0, 0.01, **web),  # an older write
                span(2, "fedstate-gateway", "apply MultiCloudMongoDB", 5.0, 0.02, **web),
                span(3, "fedstate-gateway", "apply MultiCloudMongoDB", 6.0, 0.02, **{**web, "fedstate.name": "db"}),
            ]
        )
        + "\n"
    )
    (spans / "federation.jsonl").write_text(
        span(2, "federation", "reconcile orchestrator", 7.5, 0.25, **{"fedstate.state": "Health"})
        + "\n"
        + span(1, "federation", "reconcile orchestrator", 2.0, 0.1)
        + "\n{half a line"
    )
    (spans / "agent-member-1.jsonl").write_text(span(2, "agent-member-1", "reconcile agent-member-1", 6.0, 1.0))


def test_trace_prints_every_span_of_the_newest_write_in_start_order(tmp_path: Path) -> None:
    write_spans(tmp_path)
    result = CliRunner().invoke(app, ["--stack", str(tmp_path), "trace", "mcm", "web"])
    assert 0 == result.exit_code, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"trace {2:032x}: 3 spans in 3 services over 2.750 s")
    assert [
        ("+0.0", "20.0", "fedstate-gateway", "apply MultiCloudMongoDB"),
        ("+1000.0", "1000.0", "agent-member-1", "reconcile agent-member-1"),
        ("+2500.0", "250.0", "federation", "reconcile orchestrator → Health"),
    ] == [(f[0], f[2], f[4], " ".join(f[5:])) for f in (line.split() for line in lines[1:])]


def test_trace_of_an_object_never_written_says_so(tmp_path: Path) -> None:
    write_spans(tmp_path)
    result = CliRunner().invoke(app, ["--stack", str(tmp_path), "trace", "mcm", "nothing"])
    assert 1 == result.exit_code and "no trace of a write of MultiCloudMongoDB default/nothing" in result.output
