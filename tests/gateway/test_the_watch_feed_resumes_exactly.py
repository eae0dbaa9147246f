"""The feed behind the gateway's watches, without a bus (``fedstate_gateway.feed``): resuming after any event a
watch delivered replays exactly the events that came after it, whatever the mix of spec and status changes; a
watch that falls too far behind is ended, and resuming after the last event it got loses nothing."""

from __future__ import annotations

import json
from collections.abc import Iterable

from hypothesis import given
from hypothesis import strategies as st

from fedstate.api import MULTICLOUD_MONGODB
from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import StatusRecord, StoredObject
from fedstate.bus.store import Entry
from fedstate.models.base import ObjectMeta
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus
from fedstate_gateway.feed import Feed
from fedstate_gateway.filters import object_filter
from fedstate_gateway.positions import Position
from fedstate_gateway.watch import Stream, framer
from fedstate_gateway.watchers import Event, Watcher

TENANT = "t"
NAMES = ("a", "b", "c")
EVERYTHING = object_filter([MULTICLOUD_MONGODB])
Step = tuple[str, str, int]  # (what, name, replicas): spec put, spec delete or status put


def key(name: str) -> str:
    return InstanceKey(TENANT, "default", Kind.MULTICLOUD_MONGODB, name).spec_key


def stored(name: str, replicas: int) -> StoredObject:
    return StoredObject(
        api_version=MULTICLOUD_MONGODB.api_version,
        kind="MultiCloudMongoDB",
        tenant=TENANT,
        metadata=ObjectMeta(name=name, namespace="default", generation=1),
        spec={"replicaset": replicas},
    )


class Bus:
    """Drives a feed as the gateway's caches do: each bucket counts its own revisions."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.spec_revision = self.status_revision = 0

    def apply(self, steps: Iterable[Step]) -> None:
        for what, name, replicas in steps:
            if what == "status":
                self.status_revision += 1
                status = MultiCloudMongoDBStatus(state=list(InstanceState)[replicas % len(InstanceState)])
                record = StatusRecord(kind="MultiCloudMongoDB", multicloud=status)
                self.feed.status_changed(
                    key(name), Entry(key(name), self.status_revision, record), self.status_revision
                )
                continue
            self.spec_revision += 1
            entry = Entry(key(name), self.spec_revision, stored(name, replicas)) if what == "put" else None
            self.feed.spec_changed(key(name), entry, self.spec_revision)

    @property
    def revisions(self) -> Position:
        return Position(self.spec_revision, self.status_revision, 0)


def drained(watcher: Watcher) -> list[Event]:
    events = list(watcher.backlog)
    watcher.backlog.clear()
    while not watcher.queue.empty():
        events.append(watcher.queue.get_nowait())
    return events


def told(events: list[Event]) -> list[tuple[str, bytes]]:
    return [(e.type, e.line()) for e in events]


steps = st.lists(
    st.tuples(st.sampled_from(["put", "put", "delete", "status"]), st.sampled_from(NAMES), st.integers(1, 9)),
    max_size=30,
)


@given(before=steps, after=steps)
def test_resuming_after_any_event_replays_exactly_what_followed(before: list[Step], after: list[Step]) -> None:
    feed = Feed(history=1000, queue_limit=1000)
    bus = Bus(feed)
    bus.apply(before)  # as a cache's first load: known, not replayable
    feed.record()
    live = feed.watch(EVERYTHING, feed.position, bus.revisions)
    bus.apply(after)
    seen = drained(live)
    for index, event in enumerate(seen):
        resumed = feed.watch(EVERYTHING, Position.parse(str(event.position)), bus.revisions)
        assert told(seen[index + 1 :]) == told(drained(resumed))


async def test_a_watch_that_falls_behind_is_ended_and_resumes_without_a_loss() -> None:
    """Its stream sends what was queued and ends at once; resuming after the last event sent gets the rest."""
    feed = Feed(history=1000, queue_limit=2)
    bus = Bus(feed)
    feed.record()
    slow = feed.watch(EVERYTHING, feed.position, bus.revisions)
    bus.apply([("put", name, 3) for name in NAMES])
    stream = Stream(feed, slow, framer(sse=False), bookmark=None, bookmark_seconds=3600, timeout=3600)
    sent = [json.loads(line) for chunk in [c async for c in stream.chunks()] for line in chunk.splitlines()]
    assert ["a", "b"] == [e["object"]["metadata"]["name"] for e in sent]
    last = Position.parse(sent[-1]["object"]["metadata"]["resourceVersion"])
    resumed = feed.watch(EVERYTHING, last, bus.revisions)
    assert [("ADDED", "c")] == [(e.type, e.shown.wire()["metadata"]["name"]) for e in drained(resumed)]
