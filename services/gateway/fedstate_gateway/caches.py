"""What the gateway reads, in memory: one watch per bucket, started on first use and kept for its lifetime.

Every read is answered from these caches, never by listing a bucket, so a request creates no JetStream
consumer: the gateway holds at most eight, whatever the request rate. Each cache follows only this
gateway's tenant (``<tenant>.>``, ``*.<tenant>.>``); the clusters are everyone's.

A cache is started by the first request that needs it, which waits until it holds the whole bucket.
Then every request first asks the stream for the latest revision of what it reads and waits until the
cache has taken it in (``KVCache.catch_up``, one request, no consumer): a client that wrote and then reads
sees its write, as from a Kubernetes API server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from nats.errors import Error as NatsError

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.names import parse_dataplane_key, tenant_filter, tenant_in_clusters_filter
from fedstate.bus.objects import LocalObject, StatusRecord, StoredObject
from fedstate.bus.store import Entry, M, TypedKV
from fedstate.clusters import Clusters

from .feed import Feed, Judge
from .positions import Position

log = logging.getLogger(__name__)

# A gateway whose cache does not catch up within this long answers 503 rather than something stale.
CATCH_UP_SECONDS = 30.0
BUS_RETRY_SECONDS = 0.5


class CacheBehind(Exception):
    """A cache did not take in the bucket's latest revision in time."""


class Follower(Protocol):
    async def start(self) -> None: ...

    async def catch_up(self) -> None: ...

    async def stop(self) -> None: ...


F = TypeVar("F", bound=Follower)


class Lazy(Generic[F]):
    """One cache, built and started by the first reader; every reader waits until it is current."""

    def __init__(self, name: str, build: Callable[[], F]) -> None:
        self.name = name
        self._build = build
        self._cache: F | None = None
        self._starting = asyncio.Lock()

    async def current(self) -> F:
        """The cache, holding every write that completed before this call."""
        try:
            async with asyncio.timeout(CATCH_UP_SECONDS):
                return await self._current()
        except TimeoutError:
            raise CacheBehind(
                f"the gateway's copy of {self.name} did not catch up within {CATCH_UP_SECONDS:g}s"
            ) from None

    async def _current(self) -> F:
        while True:
            try:
                return await self._current_once()
            except (NatsError, TimeoutError) as exc:
                # A request that met a NATS server going away, or a leader being elected (a NATS cluster,
                # docs/operations.md), times out or fails at once: tried again until ``CATCH_UP_SECONDS``.
                log.debug("cache not current yet", extra={"cache": self.name, "error": repr(exc)})
                await asyncio.sleep(BUS_RETRY_SECONDS)

    async def _current_once(self) -> F:
        if self._cache is None:
            async with self._starting:
                if self._cache is None:
                    cache = self._build()
                    try:
                        await cache.start()  # whole when it returns: no catch-up needed now
                    except BaseException:
                        await cache.stop()
                        raise
                    self._cache = cache
                    return cache
        await self._cache.catch_up()
        return self._cache

    async def stop(self) -> None:
        cache, self._cache = self._cache, None
        if cache is not None:
            await cache.stop()


def _instance_of(key: str) -> str:
    return parse_dataplane_key(key)[1].spec_key


def _feeding(kv: TypedKV[M], pattern: str, hook: Callable[[str, Entry[M] | None, int], None]) -> KVCache[M]:
    """A cache that tells the feed each change, with its revision (which a deletion's entry lacks)."""
    cache: KVCache[M] = KVCache(kv, pattern, on_change=lambda key, entry: hook(key, entry, cache.revision))
    return cache


@dataclass(frozen=True)
class Objects:
    """The caches of user objects at one moment (read them before the next ``await``), and their feed."""

    spec: KVCache[StoredObject]
    status: KVCache[StatusRecord]
    local: KVCache[LocalObject]
    feed: Feed

    @property
    def revisions(self) -> Position:
        """The caches' revisions: also counting writes that changed nothing shown."""
        return Position(self.spec.revision, self.status.revision, self.local.revision)


@dataclass
class Caches:
    """The gateway's caches, none started until a request needs it, and the watch feed of the object caches."""

    bus: Callable[[], Bus]
    tenant: str
    history: int = 2000
    queue_limit: int = 1000
    judge: Judge | None = None  # a cluster's view now, for watches of clusters
    _stops: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        bus, mine, in_clusters = self.bus, tenant_filter(self.tenant), tenant_in_clusters_filter(self.tenant)
        self.feed = feed = Feed(self.history, self.queue_limit, self.judge)
        self.spec = self._lazy("fs-spec", lambda: _feeding(bus().spec, mine, feed.spec_changed))
        self.status = self._lazy("fs-status", lambda: _feeding(bus().status, mine, feed.status_changed))
        self.placements = self._lazy("fs-placements", lambda: KVCache(bus().placements, mine))
        self.local = self._lazy("fs-local-objects", lambda: _feeding(bus().local, in_clusters, feed.local_changed))
        self.dataplane = self._lazy(
            "fs-dataplane", lambda: KVCache(bus().dataplane, in_clusters, index_by=_instance_of)
        )
        self.observed = self._lazy("fs-observed", lambda: KVCache(bus().observed, in_clusters, index_by=_instance_of))
        self.clusters = self._lazy(
            "fs-clusters", lambda: Clusters(bus().clusters, bus().leases, on_change=feed.cluster_changed)
        )

    def _lazy(self, name: str, build: Callable[[], F]) -> Lazy[F]:
        lazy = Lazy(name, build)
        self._stops.append(lazy.stop)
        return lazy

    async def objects(self, clusters: bool = False) -> Objects:
        """The object caches, all whole and current, and the feed recording their changes (with ``clusters``,
        the clusters' too: they feed watches of clusters)."""
        if clusters:
            await self.clusters.current()
        spec, status, local = await self.spec.current(), await self.status.current(), await self.local.current()
        self.feed.record()
        return Objects(spec, status, local, self.feed)

    async def stop(self) -> None:
        await self.feed.stop()
        await asyncio.gather(*(stop() for stop in self._stops))
