"""An in-memory copy of one bucket (or key prefix), fed by one long-lived watch — an informer.

Readers look keys up in memory instead of listing the bucket; each change also calls
``on_change`` so a controller can enqueue what it touches. One consumer per cache, for the
life of the process.

- **Ready only when whole.** ``start`` returns once the cache holds every key as the bucket stood
  when it was called: it asks the stream for the revision of the latest write matching the filter
  and waits until the watch has delivered it (never "no message for a while").
- **Consistent reads.** ``catch_up`` does the same at any time, as Kubernetes' watch cache serves a
  consistent list: after it, every write that completed before the call is in memory, so a
  client that wrote and then reads sees its write. It costs one request to the stream and creates
  no consumer.
- **Resumed, not restarted.** When the connection is back (a network cut, a server restart), the
  consumer is created again from the revision after the last one it delivered (``OrderedConsumer``):
  nothing is missed and nothing is loaded again. A revision older than what the cache holds is ignored.
- **Unreadable is not deleted.** A value it cannot read (``InvalidValue``) is kept as a dead letter; the cache
  keeps what it held for the key (the last good value, or nothing) and calls no ``on_change``.
- **Writes through.** ``write_through`` writes a value with compare-and-set against the revision the
  cache holds (``write_at``: against a revision the caller read) and keeps it at once: the watch's echo of
  that write is neither decoded again (pydantic validation of a large value was a third of a busy agent's CPU)
  nor reported to ``on_change``. A key the cache saw deleted is created again against its tombstone's revision,
  in one round trip.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Generic

from nats.aio.msg import Msg

from .envelope import InvalidValue, decode, encode
from .names import key_matches
from .ordered import OrderedConsumer
from .store import Conflict, Entry, KeyChange, M, Outcome, TypedKV

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 5
DELETED_KEPT = 4096  # deletions remembered, for a create of the key again in one round trip
# A catch-up waiting this long for a revision the stream already has re-creates the watch's consumer: twice the
# consumer's idle heartbeat, after which a dead consumer would have been replaced anyway.
STUCK_SECONDS = 10.0


class CacheStopped(RuntimeError):
    """The cache was stopped while a reader waited for it to catch up."""


class KVCache(Generic[M]):
    """The latest value of every key of ``kv`` matching ``pattern``, kept current by one watch."""

    def __init__(
        self,
        kv: TypedKV[M],
        pattern: str = ">",
        on_change: Callable[[str, Entry[M] | None], None] | None = None,
        index_by: Callable[[str], str] | None = None,
    ) -> None:
        self._kv = kv
        self._pattern = pattern
        self._on_change = on_change
        self._entries: dict[str, Entry[M]] = {}
        # An index over keys (client-go's indexers): e.g. every cluster's key of one instance.
        self._index_by = index_by
        self._index: dict[str, dict[str, Entry[M]]] = {}
        self._revision = 0  # the stream sequence of the last message applied
        self._changes = 0  # how often what is held has changed, its own writes included
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._synced = asyncio.Event()
        self._subscription: OrderedConsumer | None = None
        # key → (payload, value) of a write_through in flight: its echo may arrive before its ack
        self._writing: dict[str, tuple[bytes, M]] = {}
        # key → the revision of its deletion, the latest ``DELETED_KEPT``: creating it again is a compare-and-set
        # against that tombstone, one round trip (a plain create over a tombstone is refused, then reads it first)
        self._deleted: dict[str, int] = {}
        self._dead_letters: set[asyncio.Task[None]] = set()  # being kept: referenced until done

    @property
    def pattern(self) -> str:
        return self._pattern

    @property
    def revision(self) -> int:
        """The revision (stream sequence) of the last change the cache took in."""
        return self._revision

    @property
    def changes(self) -> int:
        """How many times what the cache holds has changed (a write through it too, before its echo): what a reader
        derived from the cache still holds while this is what it was."""
        return self._changes

    @property
    def ready(self) -> bool:
        """Started and caught up, at least once, with the bucket as it stood at the start."""
        return self._synced.is_set()

    async def start(self) -> None:
        """Subscribe, and return once every key that existed at the start is in memory."""
        self._subscription = await self._kv.subscribe(self._pattern, self._on_message, headers_only=False)
        await self.catch_up()
        self._synced.set()

    async def catch_up(self, revision: int | None = None) -> None:
        """Return once every write to a matching key that completed before this call is in memory; with
        ``revision``, once the cache has taken in the stream up to that revision (a ``Conflict``'s ``latest``).

        The stream is asked for its last revision by a direct get, which any replica of a NATS cluster may answer,
        a lagging one too: a revision known already is waited for without asking."""
        if self._subscription is None:
            raise CacheStopped(f"the cache of {self._kv.bucket} ({self._pattern}) is not started")
        target = revision if revision is not None else await self._kv.last_revision(self._pattern)
        if self._revision >= target:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        while True:
            try:
                async with asyncio.timeout(STUCK_SECONDS):  # not ``wait_for``: it can swallow a cancellation
                    await asyncio.shield(waiter)
                return
            except TimeoutError:
                await self._unstick()

    async def _unstick(self) -> None:
        """The stream has a revision the watch has not delivered for a while, yet its consumer looks alive: on a NATS
        cluster it may sit on a server that lost its place (a replica catching up after a restart or a leader
        change). A new consumer, from the revision after the last one applied, gets the watch going again."""
        subscription = self._subscription
        if subscription is None:
            raise CacheStopped(f"the cache of {self._kv.bucket} was stopped")
        await subscription.restart(f"behind the stream for {STUCK_SECONDS:g} s")

    async def stop(self) -> None:
        """Unsubscribe and delete the consumer (left alone it would linger for its inactivity threshold)."""
        subscription, self._subscription = self._subscription, None
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(CacheStopped(f"the cache of {self._kv.bucket} was stopped"))
        self._waiters.clear()
        if subscription is not None:
            await self._kv.unsubscribe(subscription)

    async def write_through(self, key: str, value: M) -> Outcome:
        """Write ``value`` unless the cache holds it already, compare-and-set against the cached revision (on a
        conflict the cache catches up and it tries again); the cache holds what was written at once."""
        for _ in range(WRITE_ATTEMPTS):
            current = self._entries.get(key)
            if current is not None and current.value == value:
                return Outcome.UNCHANGED
            try:
                await self.write_at(key, value, None if current is None else current.revision)
            except Conflict as lost:
                await self.catch_up(lost.latest)
                continue
            return Outcome.CREATED if current is None else Outcome.UPDATED
        raise Conflict(f"{self._kv.bucket}/{key} kept changing under us")

    async def write_at(self, key: str, value: M, revision: int | None) -> int:
        """Write ``value`` compare-and-set against ``revision`` (None: only if the key does not exist) and hold it
        at once, so the next read here sees it without a round trip to the stream. ``Conflict`` when the key moved
        since: nothing is held, and the caller catches up and decides again. Returns the new revision."""
        tombstone = self._deleted.get(key) if revision is None else None
        payload = encode(value)  # once: what is held while writing is what is written
        self._writing[key] = (payload, value)
        try:
            if revision is not None:
                written = await self._kv.update(key, value, revision, payload)
            elif tombstone is not None:
                written = await self._kv.update(key, value, tombstone, payload)
            else:
                written = await self._kv.create(key, value, payload)
        except Conflict:
            if tombstone is not None:
                self._deleted.pop(key, None)  # not the key's last word any more: the next try reads the stream
            raise
        finally:
            self._writing.pop(key, None)
        held = self._entries.get(key)
        if held is None or held.revision < written:
            self._hold(key, Entry(key, written, value, {}), written)
        return written

    async def _on_message(self, msg: Msg) -> None:
        change = self._kv.change_of(msg)
        if change.revision <= self._revision:
            return  # already applied: a redelivery can only be older than what we hold
        held, writing = self._entries.get(change.key), self._writing.get(change.key)
        if held is not None and held.revision >= change.revision:
            # Our own write (write_through) coming back, or older than it: nothing new for this key.
            self._advance(change.revision)
            return
        if writing is not None and not change.deleted and msg.data == writing[0]:
            # Our own write coming back before its acknowledgment: held without decoding, and no news.
            self._hold(change.key, Entry(change.key, change.revision, writing[1], change.headers), change.revision)
            self._advance(change.revision)
            return
        entry: Entry[M] | None = None
        if not change.deleted:
            try:
                entry = Entry(change.key, change.revision, decode(msg.data, self._kv.model), change.headers)
            except InvalidValue as exc:
                # Neither a value nor a deletion (decision 0019): what the cache held stays, and nobody is told.
                # Taken for a deletion, a spec of a newer major would have had an agent tear its members down.
                self._keep_dead_letter(change, msg.data, exc)
                self._advance(change.revision)
                return
        self._hold(change.key, entry, change.revision)
        self._advance(change.revision)
        if self._on_change is not None:
            self._on_change(change.key, entry)

    def _keep_dead_letter(self, change: KeyChange, payload: bytes, problem: InvalidValue) -> None:
        """In the background: the watch goes on with the next value at once."""
        task = asyncio.get_running_loop().create_task(
            self._kv.dead_letter(change.key, change.revision, payload, problem)
        )
        self._dead_letters.add(task)
        task.add_done_callback(self._dead_letters.discard)

    def _hold(self, key: str, entry: Entry[M] | None, revision: int) -> None:
        """Hold ``entry`` for ``key`` as of ``revision``; None: the key was deleted there."""
        self._changes += 1
        self._deleted.pop(key, None)
        if entry is None:
            self._entries.pop(key, None)
            self._deleted[key] = revision
            if len(self._deleted) > DELETED_KEPT:
                del self._deleted[next(iter(self._deleted))]  # the oldest deletion: a create of it reads the stream
        else:
            self._entries[key] = entry
        if self._index_by is not None:
            self._reindex(key, entry)

    def _advance(self, revision: int) -> None:
        self._revision = revision
        if self._waiters:
            self._wake_waiters()

    def _wake_waiters(self) -> None:
        waiting = []
        for target, waiter in self._waiters:
            if waiter.done():
                continue  # its reader gave up (cancelled)
            if self._revision >= target:
                waiter.set_result(None)
            else:
                waiting.append((target, waiter))
        self._waiters = waiting

    def _reindex(self, key: str, entry: Entry[M] | None) -> None:
        assert self._index_by is not None
        try:
            value = self._index_by(key)
        except ValueError:
            return  # a key of unexpected shape is not indexed
        bucket = self._index.setdefault(value, {})
        if entry is None:
            bucket.pop(key, None)
            if not bucket:
                del self._index[value]
        else:
            bucket[key] = entry

    def indexed(self, value: str) -> list[Entry[M]]:
        """The entries whose key ``index_by`` maps to ``value``."""
        return list(self._index.get(value, {}).values())

    def index_values(self) -> set[str]:
        """Every value ``index_by`` maps a held key to."""
        return set(self._index)

    def matching(self, pattern: str) -> list[Entry[M]]:
        """The entries whose key matches the KV filter ``pattern`` (``*`` one token, ``>`` the rest)."""
        return [entry for key, entry in self._entries.items() if key_matches(pattern, key)]

    def get(self, key: str) -> Entry[M] | None:
        return self._entries.get(key)

    def __iter__(self) -> Iterator[Entry[M]]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)
