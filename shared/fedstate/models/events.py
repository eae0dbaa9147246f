"""Events as people read them: the record each service publishes on ``FS_EVENTS``, and kubectl's merging.

A service publishes one record per occurrence (``fedstate.bus.events.emit``); readers merge the
records that say the same thing about the same object into one series with a count, the first
and the last time, as Kubernetes' event correlator does (``3m (x5 over 10m)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .base import WireModel


class Event(WireModel):
    instance: str  # tenant/namespace/name
    type: Literal["Normal", "Warning"] = "Normal"
    reason: str
    message: str
    component: str
    time: datetime


SeriesKey = tuple[str, str, str, str, str]


def series_key(event: Event) -> SeriesKey:
    """What makes two events "the same": object, type, reason, message and the component that said it."""
    return (event.instance, event.type, event.reason, event.message, event.component)


@dataclass(frozen=True)
class EventSeries:
    """Every occurrence of one event: the latest record, how many there were, when the first and last were."""

    event: Event
    count: int
    first: datetime
    last: datetime


def merge(events: Iterable[Event]) -> list[EventSeries]:
    """One series per distinct event, ordered by when it was last seen (oldest first, ties in input order)."""
    series: dict[SeriesKey, EventSeries] = {}
    for event in events:
        key = series_key(event)
        seen = series.get(key)
        if seen is None:
            series[key] = EventSeries(event, 1, event.time, event.time)
            continue
        latest = event if event.time >= seen.last else seen.event
        series[key] = EventSeries(latest, seen.count + 1, min(seen.first, event.time), max(seen.last, event.time))
    return sorted(series.values(), key=lambda s: s.last)
