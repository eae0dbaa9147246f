"""The per-cluster change log behind ``?watch=true`` and the watchers reading it.

Every write gets the next resourceVersion and one ``Change``; the last
``SimSettings.watch_history`` changes are kept. A watch from an older resourceVersion
than that window gets ``410 Gone / Expired``, exactly like kube-apiserver's watch cache.
"""

from __future__ import annotations

import asyncio
from collections import deque

from fedstate_sim.kube import errors
from fedstate_sim.kube.meta import Obj, dumps
from fedstate_sim.kube.selectors import FieldSelector, LabelSelector

ADDED, MODIFIED, DELETED, BOOKMARK = "ADDED", "MODIFIED", "DELETED", "BOOKMARK"


class Change:
    """One write: the object after it (or, for DELETED, its last state) and the one before."""

    __slots__ = ("_payload", "name", "namespace", "obj", "old", "resource", "rv", "type")

    def __init__(self, rv: int, type_: str, resource: str, obj: Obj, old: Obj | None) -> None:
        self.rv, self.type, self.resource, self.obj, self.old = rv, type_, resource, obj, old
        metadata = obj.get("metadata") or {}
        self.namespace: str = metadata.get("namespace") or ""
        self.name: str = metadata.get("name", "")
        self._payload: bytes | None = None

    def payload(self) -> bytes:
        """The object serialized once, shared by every watcher."""
        if self._payload is None:
            self._payload = dumps(self.obj)
        return self._payload


def event_line(type_: str, payload: bytes) -> bytes:
    return b'{"type":"' + type_.encode() + b'","object":' + payload + b"}\n"


class EventLog:
    """A bounded window of recent changes, searchable by resourceVersion."""

    def __init__(self, capacity: int) -> None:
        self._events: deque[Change] = deque(maxlen=capacity)
        self._dropped_through = 0

    def append(self, change: Change) -> None:
        if len(self._events) == self._events.maxlen:
            self._dropped_through = self._events[0].rv
        self._events.append(change)

    def since(self, rv: int, resource: str) -> list[Change]:
        """Changes to ``resource`` after ``rv``; 410 Gone when some of them were already dropped."""
        if rv < self._dropped_through:
            raise errors.gone(rv, self._dropped_through + 1)
        newer: list[Change] = []
        for change in reversed(self._events):
            if change.rv <= rv:
                break
            if change.resource == resource:
                newer.append(change)
        newer.reverse()
        return newer


class Watcher:
    """One open watch: filters changes and queues ready-to-send event lines."""

    def __init__(self, resource: str, namespace: str | None, labels: LabelSelector, fields: FieldSelector) -> None:
        self.resource, self.namespace = resource, namespace
        self.labels, self.fields = labels, fields
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def matches(self, obj: Obj | None) -> bool:
        return obj is not None and self.labels.matches_object(obj) and self.fields.matches(obj)

    def line_for(self, change: Change) -> bytes | None:
        if self.namespace and change.namespace != self.namespace:
            return None
        type_ = self._visible_type(change)
        return None if type_ is None else event_line(type_, change.payload())

    def _visible_type(self, change: Change) -> str | None:
        now = self.matches(change.obj)
        if change.type != MODIFIED:
            return change.type if now else None
        before = self.matches(change.old)
        if now:
            return MODIFIED if before else ADDED
        return DELETED if before else None

    def offer(self, change: Change) -> None:
        line = self.line_for(change)
        if line is not None:
            self.queue.put_nowait(line)

    def close(self) -> None:
        self.queue.put_nowait(None)
