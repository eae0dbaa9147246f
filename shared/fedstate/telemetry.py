"""Tracing and logging set-up shared by every service.

Spans follow a change across bus hops: every KV write and intake request made inside a span carries the
W3C ``traceparent`` of a ``publish`` span (a child of that span), and the intake and the reconcile triggered
by the message continue the trace. Messaging spans follow OpenTelemetry's messaging conventions: the
destination is the subject's template (``$KV.fs-dataplane.{cluster}.{tenant}.{namespace}.{name}``), never one
instance's subject. A write made outside any span (a heartbeat, a lease) makes no span at all.

Spans go to a JSON-lines file when ``spans_file`` is set, and to an OTLP collector (HTTP/protobuf) when
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; to both when both are.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.util import ns_to_iso_str
from opentelemetry.semconv._incubating.attributes import messaging_attributes as messaging
from opentelemetry.trace import SpanKind

_STANDARD_RECORD_FIELDS = set(vars(logging.makeLogRecord({})))


def inject(headers: MutableMapping[str, str]) -> None:
    """Add the current span's ``traceparent`` (and ``tracestate``) to outgoing NATS headers."""
    propagate.inject(headers)


def extract(headers: Mapping[str, str] | None) -> context.Context:
    return propagate.extract(dict(headers or {}))


def carries_trace(headers: Mapping[str, str] | None) -> bool:
    """Do these message headers name the trace of the change they carry?"""
    return bool(headers) and trace.get_current_span(extract(headers)).get_span_context().is_valid


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


MESSAGING_SYSTEM = "nats"
_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Set on the span of a reconcile pass answered from memory (its inputs had not moved since a pass that changed
# nothing): such a span says nothing, and serializing it was an eighth of an idle agent's CPU. Not exported.
FROM_MEMORY = "fedstate.reconcile.from_memory"
# Why a pass ran: "change" (its key was enqueued: a watch, an informer, a member told of something), "requeue"
# (the look-again its last pass asked for came due first) or "retry" (its last pass failed).
TRIGGER = "fedstate.reconcile.trigger"


def messaging_attributes(destination: str, operation: str, operation_type: str) -> dict[str, str]:
    """The messaging conventions' attributes; ``destination`` is a subject template, so it stays low-cardinality."""
    return {
        messaging.MESSAGING_SYSTEM: MESSAGING_SYSTEM,
        messaging.MESSAGING_DESTINATION_NAME: destination,
        messaging.MESSAGING_DESTINATION_TEMPLATE: destination,
        messaging.MESSAGING_OPERATION_NAME: operation,
        messaging.MESSAGING_OPERATION_TYPE: operation_type,
    }


@contextmanager
def publishing(destination: str, headers: MutableMapping[str, str], operation: str = "publish") -> Iterator[None]:
    """A producer span for one message to ``destination`` (a subject template), its context in ``headers``.

    Only inside a span: a write nothing traced asked for (a heartbeat, a lease renewal) would otherwise start a
    trace of its own, one per write, for nobody to read.
    """
    if not trace.get_current_span().get_span_context().is_valid:
        yield
        return
    attributes = messaging_attributes(destination, operation, messaging.MessagingOperationTypeValues.SEND.value)
    with _MESSAGING.start_as_current_span(f"{operation} {destination}", kind=SpanKind.PRODUCER, attributes=attributes):
        inject(headers)
        yield


@contextmanager
def processing(destination: str, headers: Mapping[str, str] | None) -> Iterator[trace.Span]:
    """A consumer span for handling one message received on ``destination``, in the trace its headers carry."""
    attributes = messaging_attributes(destination, "process", messaging.MessagingOperationTypeValues.PROCESS.value)
    with _MESSAGING.start_as_current_span(
        f"process {destination}", context=extract(headers), kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


_MESSAGING = tracer("fedstate.bus")


def tracer_provider(service: str, spans_file: Path | None) -> TracerProvider:
    """Spans of ``service`` as JSON lines to ``spans_file`` when given, and over OTLP when an endpoint is set in
    the environment; with neither, spans are created (they carry the context) but dropped."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if spans_file is not None:
        spans_file.parent.mkdir(parents=True, exist_ok=True)
        stream = spans_file.open("a", buffering=1)
        exporter = ConsoleSpanExporter(out=stream, formatter=SpanLines())
        provider.add_span_processor(_exporting(exporter))
    if any(os.environ.get(name) for name in _OTLP_ENDPOINTS):
        # Loaded only when asked for: it brings protobuf and requests into every service.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(_exporting(OTLPSpanExporter()))
    return provider


class SpanLines:
    """Each span as one JSON line: the document ``ReadableSpan.to_json`` writes, with the process's resource encoded
    once. ``to_json`` dumps the resource and parses it back for every span, which was most of the file export's
    cost (3.8 % of an agent's CPU during a create)."""

    def __init__(self) -> None:
        self._resource: tuple[Resource, Any] | None = None

    def __call__(self, span: ReadableSpan) -> str:
        fmt = ReadableSpan  # its formatting helpers, as ``to_json`` uses them
        status = {"status_code": str(span.status.status_code.name)}
        if span.status.description:
            status["description"] = span.status.description
        document = {
            "name": span.name,
            "context": fmt._format_context(span.context) if span.context else None,
            "kind": str(span.kind),
            "parent_id": f"0x{trace.format_span_id(span.parent.span_id)}" if span.parent is not None else None,
            "start_time": ns_to_iso_str(span.start_time) if span.start_time else None,
            "end_time": ns_to_iso_str(span.end_time) if span.end_time else None,
            "status": status,
            "attributes": fmt._format_attributes(span.attributes),
            "events": fmt._format_events(span.events),
            "links": fmt._format_links(span.links),
            "resource": self._resource_document(span.resource),
        }
        return json.dumps(document) + "\n"

    def _resource_document(self, resource: Resource) -> Any:
        if self._resource is None or self._resource[0] is not resource:
            self._resource = (resource, json.loads(resource.to_json(indent=None)))
        return self._resource[1]


class WithoutPassesFromMemory(SpanProcessor):
    """``processor``, but for the spans of passes answered from memory (``FROM_MEMORY``), which end here."""

    def __init__(self, processor: SpanProcessor) -> None:
        self._processor = processor

    def on_start(self, span: Any, parent_context: context.Context | None = None) -> None:
        self._processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.attributes or {}).get(FROM_MEMORY):
            self._processor.on_end(span)

    def shutdown(self) -> None:
        self._processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._processor.force_flush(timeout_millis)


def _exporting(exporter: SpanExporter) -> SpanProcessor:
    return WithoutPassesFromMemory(BatchSpanProcessor(exporter))


def setup_tracing(service: str, spans_file: Path | None) -> None:
    trace.set_tracer_provider(tracer_provider(service, spans_file))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_RECORD_FIELDS})
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["traceId"] = f"{span.trace_id:032x}"
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kubernetes", "urllib3", "aiohttp.access", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
