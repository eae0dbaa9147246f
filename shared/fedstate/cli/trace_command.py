"""``fedstate trace mcm NAME``: the trace of an object's last create or update in the local stack, as a timeline.

Read from the span files ``fedstate up`` has every service write (``.fedstate/spans/<service>.jsonl``): the
gateway's span for the write names the trace, and every span of that trace, in whichever service, is one line:
when it started after the write, how long it took, where it ran and what it was.
"""

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from fedstate.api.resources import DEFAULT_NAMESPACE, lookup

from .context import find_stack, where_looked
from .errors import CliError
from .options import NameArgument, Namespace

Span = dict[str, Any]
WRITES = ("apply", "delete")  # the gateway's span of a write is "<op> <Kind>"


def read_spans(directory: Path) -> list[Span]:
    """Every span exported so far; a line being written as we read is left for next time."""
    spans = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                spans.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return spans


def _started(span: Span) -> datetime:
    return datetime.fromisoformat(span["start_time"])


def _seconds(span: Span) -> float:
    return (datetime.fromisoformat(span["end_time"]) - _started(span)).total_seconds()


def trace_of_write(spans: Iterable[Span], kind: str, namespace: str, name: str) -> list[Span]:
    """The spans of the trace of the newest gateway write of that object, by start time; [] when none."""
    spans = list(spans)
    writes = [
        s
        for s in spans
        if s["name"] in {f"{op} {kind}" for op in WRITES}
        and s["attributes"].get("fedstate.name") == name
        and s["attributes"].get("fedstate.namespace", namespace) == namespace
    ]
    if not writes:
        return []
    trace_id = max(writes, key=_started)["context"]["trace_id"]
    return sorted((s for s in spans if s["context"]["trace_id"] == trace_id), key=_started)


def timeline(trace: list[Span]) -> list[str]:
    """One line per span: +start after the first span, duration, service, name (and the state a pass reached)."""
    start = _started(trace[0])
    total = max(datetime.fromisoformat(s["end_time"]) for s in trace) - start
    services = {s["resource"]["attributes"]["service.name"] for s in trace}
    lines = [
        f"trace {trace[0]['context']['trace_id'][2:]}: {len(trace)} spans in {len(services)} services over "
        f"{total.total_seconds():.3f} s"
    ]
    for span in trace:
        offset = (_started(span) - start).total_seconds() * 1000
        state = span["attributes"].get("fedstate.state")
        lines.append(
            f"{offset:+10.1f} ms {_seconds(span) * 1000:9.1f} ms  {span['resource']['attributes']['service.name']:<22} "
            f"{span['name']}" + (f"  → {state}" if state else "")
        )
    return lines


def trace(
    kind: Annotated[str, typer.Argument(help="the object's type: mcm, mdb, cm or any name get accepts")],
    name: NameArgument,
    namespace: Namespace = DEFAULT_NAMESPACE,
) -> None:
    """The trace of the object's last write through the gateway, from the REST call to the member clusters and
    back (the local stack's span files), as a timeline: which step started when and took how long."""
    try:
        resource = lookup(kind)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    paths = find_stack()
    if paths is None or not paths.spans.is_dir():
        raise CliError(f"no local stack with span files found in {where_looked()}; spans are read from `fedstate up`")
    found = trace_of_write(read_spans(paths.spans), resource.kind, namespace, name)
    if not found:
        raise CliError(
            f"no trace of a write of {resource.kind} {namespace}/{name} in {paths.spans} (yet: spans are "
            "exported every few seconds)"
        )
    print("\n".join(timeline(found)))


def register(app: typer.Typer) -> None:
    app.command()(trace)
