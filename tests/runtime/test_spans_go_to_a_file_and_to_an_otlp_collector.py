"""With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, a service's spans reach an OTLP/HTTP collector (here a local
receiver that decodes what it is sent), and still go to the spans file when one is set too."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from fedstate.telemetry import tracer_provider


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.received: list[tuple[str, str, str]] = []  # (path, service.name, span name)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        for resource_spans in request.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name")
            for scope in resource_spans.scope_spans:
                self.server.received += [(self.path, service, span.name) for span in scope.spans]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_spans_reach_the_otlp_endpoint_and_the_file(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    spans_file = tmp_path / "spans" / "scheduler.jsonl"
    provider = tracer_provider("scheduler", spans_file)
    with provider.get_tracer("test").start_as_current_span("reconcile scheduler"):
        pass
    provider.shutdown()  # flushes both exporters
    assert [("/v1/traces", "scheduler", "reconcile scheduler")] == receiver.received
    assert ["reconcile scheduler"] == [json.loads(line)["name"] for line in spans_file.read_text().splitlines()]
