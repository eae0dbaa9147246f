"""The gateway's answers as the CLI reads them: light views over the JSON, on the standard library alone.

The gateway writes its bodies with the pydantic models of ``fedstate.api.wire``. A command that only
shows them (``get``, ``describe``, ``events``, ``clusters``) wraps the parsed JSON in these views
instead of validating it: importing pydantic and building the models costs about 0.15 s, most of
the CLI's 0.2 s start-up budget (docs/performance.md, "CLI start-up"). A view reads each field under
the camelCase of its Python name, as the models' aliases do (``spec_generation`` reads
``specGeneration``); ``to_wire()`` is the body as received without its null fields, which is what
the models print (``exclude_none``) for every body the CLI prints: ``-o json``, ``-o yaml`` and
``-o jsonpath`` read it. ``tests/cli/test_views_read_what_the_gateway_writes.py`` holds each view to its model.

Repeated events are merged here, for any record with an event's fields (the bus's ``Event`` as well
as ``EventView``): one implementation of kubectl's ``3m (x5 over 10m)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

T = TypeVar("T")


def camel(name: str) -> str:
    """``spec_generation`` → ``specGeneration``: the wire name of a field, as the models' alias generator makes it."""
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def without_nulls(wire: dict[str, Any]) -> dict[str, Any]:
    """The fields that have a value: what a model prints with ``exclude_none``."""
    return {key: value for key, value in wire.items() if value is not None}


class View:
    """A JSON object the gateway answered with, read through the ``Field``s of its class."""

    def __init__(self, wire: dict[str, Any] | None = None) -> None:
        self.wire: dict[str, Any] = wire if wire is not None else {}

    def to_wire(self) -> dict[str, Any]:
        """The body as received, without its null fields (a copy: changing it changes no view)."""
        return without_nulls(self.wire)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.wire!r})"


V = TypeVar("V", bound=View)


class Field(Generic[T]):
    """One field of a view: ``read`` turns the JSON value (None when absent or null) into the field's value."""

    def __init__(self, read: Callable[[Any], T]) -> None:
        self.read = read
        self.key = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = camel(name)

    @overload
    def __get__(self, view: None, owner: type) -> Field[T]: ...
    @overload
    def __get__(self, view: View, owner: type) -> T: ...
    def __get__(self, view: View | None, owner: type) -> Field[T] | T:
        return self if view is None else self.read(view.wire.get(self.key))


def value(default: T) -> Field[T]:
    """A value as the JSON has it (string, number, bool, object), ``default`` when absent."""
    return Field(lambda found: default if found is None else found)


def mapping() -> Field[dict[str, Any]]:
    """An object read as a dict; an empty one when absent."""
    return Field(lambda found: {} if found is None else found)


def strings() -> Field[list[str]]:
    return Field(lambda found: [] if found is None else found)


def view(kind: type[V]) -> Field[V]:
    """A nested object, read through its own view."""
    return Field(lambda found: kind(found))


def views(kind: type[V]) -> Field[list[V]]:
    """A list of objects, each read through ``kind``."""
    return Field(lambda found: [kind(item) for item in found or []])


def timestamp() -> Field[datetime]:
    """An RFC 3339 time (``2026-03-01T12:00:00.5Z``), as pydantic writes a ``datetime``."""
    return Field(lambda found: datetime.fromisoformat(found))


class ListView(Generic[V]):
    """A list body (``{"items": [...]}``, with kind and metadata for user objects): its items, each a view."""

    def __init__(self, kind: type[V], wire: dict[str, Any]) -> None:
        self.wire = wire
        self.items: list[V] = [kind(item) for item in wire.get("items") or []]

    def to_wire(self) -> dict[str, Any]:
        """The body with the items it holds now (a command may have dropped some)."""
        return {**without_nulls(self.wire), "items": [item.to_wire() for item in self.items]}


class Named:
    """``name`` and ``namespace`` from a Kubernetes object's metadata: ``KubeObject`` and ``ObjectView`` read them so."""

    if TYPE_CHECKING:
        metadata: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace", ""))


class ObjectView(Named, View):
    """A user object (``KubeObject``): metadata, spec (or data for a ConfigMap) and status."""

    api_version: Field[str] = value("")
    kind: Field[str] = value("")
    metadata = mapping()
    spec: Field[dict[str, Any] | None] = value(None)
    data: Field[dict[str, str] | None] = value(None)
    status: Field[dict[str, Any] | None] = value(None)


class EventView(View):
    """One event record (``Event``) as ``GET /events`` lists it."""

    instance: Field[str] = value("")  # tenant/namespace/name
    type: Field[str] = value("Normal")
    reason: Field[str] = value("")
    message: Field[str] = value("")
    component: Field[str] = value("")
    time: Field[datetime] = timestamp()


class AssignmentView(View):
    """How many members one cluster holds (``ClusterAssignment``)."""

    cluster: Field[str] = value("")
    replicas: Field[int] = value(0)
    voters: Field[int] = value(0)
    arbiter: Field[bool] = value(False)


class VerdictView(View):
    """Why a cluster was kept or dropped, and its score (``ClusterVerdict``)."""

    cluster: Field[str] = value("")
    eligible: Field[bool] = value(False)
    reasons = strings()
    score: Field[float | None] = value(None)


class PlacementView(View):
    """The scheduler's decision for an instance (``Placement``), as ``describe`` shows it."""

    spec_generation: Field[int] = value(0)
    mode: Field[str] = value("")
    summary: Field[str] = value("")
    clusters = views(AssignmentView)
    verdicts = views(VerdictView)
    warnings = strings()


class CapacityView(View):
    """Sums over a cluster's schedulable nodes (``ClusterCapacity``): CPU in millicores, memory in bytes."""

    allocatable_cpu_millis: Field[int] = value(0)
    allocatable_memory_bytes: Field[int] = value(0)
    free_cpu_millis: Field[int] = value(0)
    free_memory_bytes: Field[int] = value(0)


class MemberClusterView(View):
    """A member cluster as ``GET /clusters`` shows it (``ClusterView``)."""

    name: Field[str] = value("")
    vip: Field[str] = value("")
    health: Field[str] = value("")  # Ready | Unreachable
    heartbeat_age_seconds: Field[float] = value(0.0)
    region: Field[str] = value("")
    zone: Field[str] = value("")
    provider: Field[str] = value("")
    labels: Field[dict[str, str]] = mapping()
    node_count: Field[int] = value(0)
    ready_nodes: Field[int] = value(0)
    capacity = view(CapacityView)
    storage_classes = strings()
    agent_version: Field[str] = value("")


class Occurrence(Protocol):
    """What merging reads of an event: ``Event`` (the bus's record) and ``EventView`` both have it."""

    @property
    def instance(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def component(self) -> str: ...
    @property
    def time(self) -> datetime: ...


E = TypeVar("E")  # unbounded here: mypy checks an annotation's bound before it knows the views' fields
R = TypeVar("R", bound=Occurrence)
SeriesKey = tuple[str, str, str, str, str]


def series_key(event: Occurrence) -> SeriesKey:
    """What makes two events "the same": object, type, reason, message and the component that said it."""
    return (event.instance, event.type, event.reason, event.message, event.component)


@dataclass(frozen=True)
class EventSeries(Generic[E]):
    """Every occurrence of one event: the latest record, how many there were, when the first and last were."""

    event: E
    count: int
    first: datetime
    last: datetime


def merge(events: Iterable[R]) -> list[EventSeries[R]]:
    """One series per distinct event, ordered by when it was last seen (oldest first, ties in input order).

    Records that say the same thing about the same object merge into one series with a count, the
    first and the last time, as Kubernetes' event correlator merges them.
    """
    series: dict[SeriesKey, EventSeries[R]] = {}
    for event in events:
        key = series_key(event)
        seen = series.get(key)
        if seen is None:
            series[key] = EventSeries(event, 1, event.time, event.time)
            continue
        latest = event if event.time >= seen.last else seen.event
        series[key] = EventSeries(latest, seen.count + 1, min(seen.first, event.time), max(seen.last, event.time))
    return sorted(series.values(), key=lambda s: s.last)
