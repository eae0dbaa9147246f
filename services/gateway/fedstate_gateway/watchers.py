"""A watch as the feed serves it: objects as shown at one moment, changes, the events one watcher sees of them
(selectors applied as Kubernetes applies them), and the watcher's queue."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from fedstate.api import Resource

from .positions import Position

if TYPE_CHECKING:
    from .filters import ObjectFilter  # which imports errors, which imports caches, which imports the feed

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"


class Shown:
    """One object as watchers see it at one moment, rendered once on first need. ``resource`` is None for a
    member cluster."""

    __slots__ = ("_render", "_wire", "namespace", "resource")

    def __init__(self, resource: Resource | None, namespace: str, render: Callable[[], dict[str, Any]]) -> None:
        self.resource, self.namespace, self._render = resource, namespace, render
        self._wire: dict[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        if self._wire is None:
            self._wire = self._render()
        return self._wire

    def payload(self, position: Position) -> bytes:
        """The object as JSON, its resourceVersion the position given."""
        wire = self.wire()
        stamped = {**wire, "metadata": {**wire.get("metadata", {}), "resourceVersion": str(position)}}
        return json.dumps(stamped, separators=(",", ":")).encode()


@dataclass
class Change:
    """One change to one object: how it looked before and after (None: absent), and the position after it."""

    revision: int  # in the bucket it came from; 0 for what is not replayed (a cluster, a watch's first ADDED)
    position: Position
    before: Shown | None
    after: Shown | None
    _payloads: dict[int, bytes] = field(default_factory=dict)

    def payload(self, shown: Shown) -> bytes:
        """Serialized once, whatever the number of watchers."""
        found = self._payloads.get(id(shown))
        if found is None:
            found = self._payloads[id(shown)] = shown.payload(self.position)
        return found


class Event(NamedTuple):
    type: str
    shown: Shown
    position: Position
    change: Change | None = None  # None for the ADDED events a watch starts with

    def line(self) -> bytes:
        """The event's ``{"type", "object"}`` JSON."""
        payload = self.change.payload(self.shown) if self.change else self.shown.payload(self.position)
        return b'{"type":"' + self.type.encode() + b'","object":' + payload + b"}"


def event_for(wanted: ObjectFilter, change: Change) -> Event | None:
    """What one watcher sees of a change: as Kubernetes does with selectors, an object that comes into the
    selection is ADDED and one that leaves it is DELETED."""

    def selected(shown: Shown | None) -> bool:
        if shown is None:
            return False
        if shown.resource is None:
            return wanted.clusters  # selectors are for objects
        if not wanted.wants(shown.resource, shown.namespace):
            return False
        if wanted.by_kind_only:
            return True
        wire = shown.wire()
        return wanted.matches(wire.get("metadata", {}), wire.get("status"))

    was = change.before if selected(change.before) else None
    now = change.after if selected(change.after) else None
    if now is not None:
        return Event(ADDED if was is None else MODIFIED, now, change.position, change)
    if was is not None:
        return Event(DELETED, change.after or was, change.position, change)
    return None


class Watcher:
    """One open watch: its filter and a bounded queue of events. A watch that falls that far behind is ended, as
    kube-apiserver ends slow watchers, and so is every watch when the gateway stops: once what was queued is
    sent, the stream ends and the client resumes from the last event it got."""

    def __init__(self, wanted: ObjectFilter, limit: int) -> None:
        self.wanted = wanted
        # What the watch starts with (every object, or the history it resumes from): sent first, never dropped.
        self.backlog: deque[Event] = deque()
        # None wakes a stream waiting for events, to end it.
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=limit)
        self.ended = False

    def end(self) -> None:
        self.ended = True
        with suppress(asyncio.QueueFull):  # a full queue wakes its stream anyway
            self.queue.put_nowait(None)

    def start_with(self, change: Change) -> None:
        if (event := event_for(self.wanted, change)) is not None:
            self.backlog.append(event)

    def offer(self, change: Change) -> None:
        event = event_for(self.wanted, change)
        if event is None or self.ended:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.ended = True
