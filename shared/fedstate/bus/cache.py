"""An in-memory copy of one bucket (or key prefix), fed by one long-lived watch — an informer.

Readers look keys up in memory instead of listing the bucket; each change also calls
``on_change`` so a controller can enqueue what it touches. One consumer per cache, for the
life of the process (``TypedKV.subscribe`` resumes it after reconnects).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Generic

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .envelope import InvalidValue, decode
from .store import Entry, M, TypedKV

log = logging.getLogger(__name__)


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
        self._synced = asyncio.Event()
        self._subscription: JetStreamContext.PushSubscription | None = None

    async def start(self) -> None:
        """Subscribe, and return once every key that existed at the start is in memory."""
        self._subscription = await self._kv.subscribe(self._pattern, self._on_message, headers_only=False)
        info = await self._subscription.consumer_info()
        if info.num_pending == 0 and not (info.delivered and info.delivered.consumer_seq):
            self._synced.set()  # nothing matched: the last message (num_pending 0) sets it otherwise
        await self._synced.wait()

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _on_message(self, msg: Msg) -> None:
        change = self._kv.change_of(msg)
        entry: Entry[M] | None = None
        if not change.deleted:
            try:
                entry = Entry(change.key, change.revision, decode(msg.data, self._kv.model), change.headers)
            except InvalidValue as exc:
                log.warning(
                    "skipping bad value", extra={"bucket": str(self._kv.bucket), "key": change.key, "error": str(exc)}
                )
        if entry is None:
            self._entries.pop(change.key, None)
        else:
            self._entries[change.key] = entry
        if self._index_by is not None:
            self._reindex(change.key, entry)
        if msg.metadata.num_pending == 0:
            self._synced.set()
        if self._on_change is not None:
            self._on_change(change.key, entry)

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

    def get(self, key: str) -> Entry[M] | None:
        return self._entries.get(key)

    def __iter__(self) -> Iterator[Entry[M]]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)
