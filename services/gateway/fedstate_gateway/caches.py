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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.names import parse_dataplane_key, tenant_filter, tenant_in_clusters_filter
from fedstate.clusters import Clusters

# A gateway whose cache does not catch up within this long answers 503 rather than something stale.
CATCH_UP_SECONDS = 30.0


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


@dataclass
class Caches:
    """The gateway's caches, none started until a request needs it."""

    bus: Callable[[], Bus]
    tenant: str
    _stops: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        bus, mine, in_clusters = self.bus, tenant_filter(self.tenant), tenant_in_clusters_filter(self.tenant)
        self.spec = self._lazy("fs-spec", lambda: KVCache(bus().spec, mine))
        self.status = self._lazy("fs-status", lambda: KVCache(bus().status, mine))
        self.placements = self._lazy("fs-placements", lambda: KVCache(bus().placements, mine))
        self.local = self._lazy("fs-local-objects", lambda: KVCache(bus().local, in_clusters))
        self.dataplane = self._lazy(
            "fs-dataplane", lambda: KVCache(bus().dataplane, in_clusters, index_by=_instance_of)
        )
        self.observed = self._lazy("fs-observed", lambda: KVCache(bus().observed, in_clusters, index_by=_instance_of))
        self.clusters = self._lazy("fs-clusters", lambda: Clusters(bus().clusters, bus().leases))

    def _lazy(self, name: str, build: Callable[[], F]) -> Lazy[F]:
        lazy = Lazy(name, build)
        self._stops.append(lazy.stop)
        return lazy

    async def stop(self) -> None:
        await asyncio.gather(*(stop() for stop in self._stops))
