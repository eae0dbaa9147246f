"""The change feed behind ``?watch=true``: every change the object caches take in, as a Kubernetes watch event.

The caches of fs-spec, fs-status and fs-local-objects (``caches.py``) call the feed for each change they
take in. The feed keeps what every object looks like now (references to cache entries, nothing copied), a
bounded history of recent changes for watches that resume from a position (``positions.py``), and the open
watches (``watchers.py``), to which it hands each change: a watch costs a queue in memory, never a JetStream
consumer. Member clusters come from their own cache; once a watch asks for them they are judged again every
second (health depends on the time) and sent as they change, never replayed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from fedstate.api import MONGODB, ClusterView, by_kind
from fedstate.bus.objects import LocalObject, StatusRecord, StoredObject
from fedstate.bus.store import Entry
from fedstate.models.cluster import ClusterSnapshot

from .positions import Expired, Position, Source
from .views import local_view, object_view
from .watchers import Change, Shown, Watcher

if TYPE_CHECKING:
    from .filters import ObjectFilter  # which imports errors, which imports caches, which imports this

# A member cluster in a watch: its ClusterView as status, as a Node shows its own.
CLUSTER_KIND, CLUSTER_API_VERSION = "MemberCluster", "fedstate.io/v1"
# How often clusters are judged again: a cluster whose heartbeats stop turns Unreachable with no write at all.
JUDGE_SECONDS = 1.0
Judge = Callable[["ClusterSnapshot"], "ClusterView"]


ObjectId = tuple[Source, str]
K = TypeVar("K")
V = TypeVar("V")


def _hold(held: dict[K, V], key: K, value: V | None) -> None:
    if value is None:
        held.pop(key, None)
    else:
        held[key] = value


class Feed:
    """The objects of one tenant as they change, and the watches following them."""

    def __init__(self, history: int, queue_limit: int, judge: Judge | None = None) -> None:
        self._judge = judge
        self._clusters: dict[str, tuple[ClusterSnapshot, Shown, str]] = {}  # name → snapshot, shown, its health
        self._unjudged: dict[str, ClusterSnapshot] = {}  # the clusters as they are before any watch of them
        self._judging: asyncio.Task[None] | None = None
        self._history: deque[tuple[Source, Change]] = deque(maxlen=history)
        self._queue_limit = queue_limit
        self._revision = dict.fromkeys(Source, 0)
        self._floor = dict.fromkeys(Source, 0)
        self._recording = dict.fromkeys(Source, False)
        self._specs: dict[str, Entry[StoredObject]] = {}
        self._statuses: dict[str, Entry[StatusRecord]] = {}
        self._objects: dict[ObjectId, Shown] = {}
        self._watchers: set[Watcher] = set()

    @property
    def position(self) -> Position:
        return Position(*(self._revision[s] for s in Source))

    def record(self) -> None:
        """From now on keep changes for replay; called once every cache is whole (earlier ones are not all seen:
        a cache starts with the latest value of each key only)."""
        for source in Source:
            if not self._recording[source]:
                self._recording[source] = True
                self._floor[source] = self._revision[source]

    # The caches' on_change hooks: ``revision`` is the cache's, which counts a deletion too.

    def spec_changed(self, key: str, entry: Entry[StoredObject] | None, revision: int) -> None:
        _hold(self._specs, key, entry)
        self._changed(Source.SPEC, revision, key, self._bus_object(key))

    def status_changed(self, key: str, entry: Entry[StatusRecord] | None, revision: int) -> None:
        _hold(self._statuses, key, entry)
        self._changed(Source.STATUS, revision, key, self._bus_object(key))

    def local_changed(self, key: str, entry: Entry[LocalObject] | None, revision: int) -> None:
        shown = None
        if entry is not None:
            local = entry.value
            shown = Shown(MONGODB, local.object.metadata.namespace, lambda: local_view(local).to_wire())
        self._changed(Source.LOCAL, revision, key, shown)

    def cluster_changed(self, name: str, snapshot: ClusterSnapshot | None, _content_changed: bool = True) -> None:
        """A cluster's snapshot or heartbeat changed: sent as it happens. Until a watch asks for clusters, only
        kept: an idle gateway need not judge and render every heartbeat of every cluster for no one."""
        if self._judging is None:
            _hold(self._unjudged, name, snapshot)
            return
        before = self._clusters.pop(name, None)
        after = None
        if snapshot is not None and self._judge is not None:
            after, health = self._shown_cluster(snapshot)
            self._clusters[name] = (snapshot, after, health)
        self._offer_live(before[1] if before else None, after)

    def _shown_cluster(self, snapshot: ClusterSnapshot) -> tuple[Shown, str]:
        """The cluster judged now (health and heartbeat age depend on the time): rendered at once."""
        assert self._judge is not None
        view = self._judge(snapshot).to_wire()
        wire = {"apiVersion": CLUSTER_API_VERSION, "kind": CLUSTER_KIND, "metadata": {"name": snapshot.name}}
        wire["status"] = view
        return Shown(None, "", lambda: wire), str(view.get("health", ""))

    def _offer_live(self, before: Shown | None, after: Shown | None) -> None:
        if before is None and after is None:
            return
        change = Change(0, self.position, before, after)
        for watcher in self._watchers:
            watcher.offer(change)

    def rejudge(self) -> None:
        """A cluster whose health changed with time alone (its heartbeats stopped) is sent as MODIFIED."""
        for name, (snapshot, shown, health) in list(self._clusters.items()):
            after, now = self._shown_cluster(snapshot)
            if now != health:
                self._clusters[name] = (snapshot, after, now)
                self._offer_live(shown, after)

    async def _keep_judging(self) -> None:
        while True:
            await asyncio.sleep(JUDGE_SECONDS)
            self.rejudge()

    async def stop(self) -> None:
        if self._judging is not None:
            self._judging.cancel()
            await asyncio.gather(self._judging, return_exceptions=True)
            self._judging = None

    def _bus_object(self, key: str) -> Shown | None:
        spec = self._specs.get(key)
        if spec is None:
            return None
        stored, status = spec.value, self._statuses.get(key)
        resource = by_kind(stored.kind)
        record = status.value if status else None
        return Shown(resource, stored.metadata.namespace, lambda: object_view(resource, stored, record).to_wire())

    def _changed(self, source: Source, revision: int, key: str, after: Shown | None) -> None:
        self._revision[source] = max(self._revision[source], revision)
        object_id = (Source.LOCAL if source is Source.LOCAL else Source.SPEC, key)
        before = self._objects.get(object_id)
        _hold(self._objects, object_id, after)
        if not self._recording[source] or (before is None and after is None):
            return  # e.g. a status without its object: nothing to show
        change = Change(revision, self.position, before, after)
        if len(self._history) == self._history.maxlen:
            dropped_source, dropped = self._history[0]
            self._floor[dropped_source] = max(self._floor[dropped_source], dropped.revision)
        self._history.append((source, change))
        for watcher in self._watchers:
            watcher.offer(change)

    def watch(self, wanted: ObjectFilter, since: Position | None, bus_revisions: Position) -> Watcher:
        """A watcher queued with what it starts with: every selected object as ADDED without ``since``, else
        the changes after ``since``. ``Expired`` when ``since`` is older than the history or newer than the
        bus (``bus_revisions``: the caches' revisions, which also count writes that changed nothing shown)."""
        if since is not None:
            self._check(since, bus_revisions)
        watcher = Watcher(wanted, self._queue_limit)
        position = self.position
        if since is None:
            for shown in self._objects.values():
                watcher.start_with(Change(0, position, None, shown))
        else:
            for source, change in self._history:
                if change.revision > since.of(source):
                    watcher.start_with(change)
        if wanted.clusters and self._judging is None:
            self._judging = asyncio.get_running_loop().create_task(self._keep_judging())
            unjudged, self._unjudged = self._unjudged, {}
            for name, snapshot in unjudged.items():
                self.cluster_changed(name, snapshot)
        # Clusters are few and each is all its state: a watch of them gets every one, resumed or not; last, so
        # that a client cut off before the end resumes from a position before what it missed.
        for _, shown, _ in self._clusters.values() if wanted.clusters else ():
            watcher.start_with(Change(0, position, None, shown))
        self._watchers.add(watcher)
        return watcher

    def _check(self, since: Position, bus_revisions: Position) -> None:
        for source in Source:
            if since.of(source) < self._floor[source]:
                oldest = Position(*(self._floor[s] for s in Source))
                raise Expired(f"too old resource version: {since} ({oldest})")
            if since.of(source) > bus_revisions.of(source):
                raise Expired(f"resource version {since} is newer than the bus ({bus_revisions}): was it reset?")

    def end_watches(self) -> None:
        """The gateway is stopping: every stream ends after what it has queued (uvicorn would wait for them)."""
        for watcher in self._watchers:
            watcher.end()

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)
