"""Typed JetStream KV access: get, compare-and-set writes, tombstones and key watches.

Writes go through ``js.publish`` on the bucket's subject (as nats-py's own KV does) so
that W3C trace context travels in the NATS headers of every write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError
from pydantic import BaseModel

from fedstate import telemetry

from . import metrics
from .deadletters import DeadLetters
from .envelope import InvalidValue, decode, encode
from .names import (
    KV_OPERATION,
    Bucket,
    is_key,
    kv_put_subject,
    kv_stream,
    kv_subject,
    kv_subject_template,
)
from .ordered import ANYONE, RECONNECTED, ConsumerOwner, OrderedConsumer, latest_sequence

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

_EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
_WRONG_LAST_SEQUENCE = {10071, 10164}

# Called before every write of a fenced handle: raises while its writer may not write (a deposed leader), else
# gives the headers the write carries (the leader's term). ``fedstate.leadership`` makes them.
Fence = Callable[[], dict[str, str]]


class Conflict(Exception):
    """A compare-and-set write lost: somebody wrote the key since we read it. ``latest``: the key's revision that
    won, when the server said it (a reader that must see it waits for that revision, see ``KVCache.catch_up``)."""

    def __init__(self, message: str, latest: int | None = None) -> None:
        super().__init__(message)
        self.latest = latest


# How nats-server words a refused ``Nats-Expected-Last-Subject-Sequence``: the subject's last sequence.
_WRONG_LAST = re.compile(r"wrong last sequence: (\d+)")


class Outcome(StrEnum):
    """Completes "<key> has been …" in logs and events."""

    UNCHANGED = "unchanged"
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True)
class Entry(Generic[M]):
    key: str
    revision: int
    value: M
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyChange:
    """A key was written or deleted; watchers re-read the buckets rather than trust a payload."""

    key: str
    revision: int
    deleted: bool
    headers: dict[str, str]


def _resume_cancellation() -> None:
    """Raise a cancellation that was requested but lost.

    nats-py waits for replies with ``asyncio.wait_for``, which on Python 3.11 returns the reply and
    drops a cancellation that arrives in the same loop iteration (CPython gh-86296). The task still
    counts the request (``Task.cancelling``): raising here keeps a cancelled service from carrying on
    (it hung ``Scheduler.run`` on shutdown now and then).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Reconnects:
    """What to run each time the connection is back (nats-py's ``reconnected_cb``) or a server of the cluster left
    (``ClusterMembership``), as tasks of their own: nats-py awaits the callback inside its reconnect loop."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[str], Awaitable[None]]] = []
        self._running: set[asyncio.Task[None]] = set()

    def add(self, callback: Callable[[str], Awaitable[None]]) -> None:
        self._callbacks.append(callback)

    def discard(self, callback: Callable[[str], Awaitable[None]]) -> None:
        with contextlib.suppress(ValueError):
            self._callbacks.remove(callback)

    async def fire(self, why: str = RECONNECTED) -> None:
        for callback in list(self._callbacks):
            task = asyncio.create_task(self._run(callback, why))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    @staticmethod
    async def _run(callback: Callable[[str], Awaitable[None]], why: str) -> None:
        try:
            await callback(why)
        except Exception as exc:  # one listener's failure must not stop the others
            log.warning("reconnect callback failed", extra={"error": repr(exc)})


class TypedKV(Generic[M]):
    """One bucket whose values are envelopes of one model.

    ``reconnects``, when given, is the connection's: watches register there to resume at once when the
    connection is back. ``owner`` names the consumers of its watches and says whether it may delete them.
    ``dead_letters`` keeps the values this reader cannot read (by default under ``owner``'s name). ``domain`` is
    the JetStream domain ``js`` asks (decision 0022): writes go under its API, the only form a leaf node forwards.
    """

    def __init__(
        self,
        js: JetStreamContext,
        bucket: Bucket,
        model: type[M],
        reconnects: Reconnects | None = None,
        owner: ConsumerOwner = ANYONE,
        fence: Fence | None = None,
        dead_letters: DeadLetters | None = None,
        domain: str | None = None,
    ) -> None:
        self._js, self.bucket, self.model, self.domain = js, bucket, model, domain
        self.reconnects, self.owner = reconnects, owner
        self.fence = fence
        self.dead_letters = dead_letters or DeadLetters(js, owner.name)

    def fenced(self, fence: Fence) -> TypedKV[M]:
        """The same bucket, every write of which first asks ``fence`` (reads and watches are unchanged)."""
        return TypedKV(
            self._js, self.bucket, self.model, self.reconnects, self.owner, fence, self.dead_letters, self.domain
        )

    async def get(self, key: str) -> Entry[M] | None:
        if not is_key(key):
            # Nothing is stored under it; asked as a subject, a wildcard would answer with another key's value.
            return None
        try:
            msg = await self._js.get_msg(kv_stream(self.bucket), subject=kv_subject(self.bucket, key), direct=True)
        except NotFoundError:
            _resume_cancellation()
            return None
        _resume_cancellation()
        headers = dict(msg.headers or {})
        if headers.get(KV_OPERATION) in ("DEL", "PURGE") or msg.data is None:
            return None
        revision = msg.seq or 0
        try:
            return Entry(key, revision, decode(msg.data, self.model), headers)
        except InvalidValue as exc:
            # Still raised: to a reconcile, an unreadable value is neither a value nor a deletion (it retries).
            await self.dead_letter(key, revision, msg.data, exc)
            raise

    async def dead_letter(self, key: str, revision: int, payload: bytes, problem: InvalidValue) -> None:
        """Keep a value this service could not read in the dead-letter stream, with why, under its own name, and
        announce it: an operator finds it there (``fedstate bus deadletters``) while the service goes on."""
        await self.dead_letters.keep(str(self.bucket), key, revision, payload, problem)

    async def _publish(self, key: str, payload: bytes, headers: dict[str, str]) -> int:
        if not is_key(key):
            raise ValueError(f"{self.bucket}: {key!r} is not a KV key")
        if self.fence is not None:
            headers = {**headers, **self.fence()}
        try:
            with telemetry.publishing(kv_subject_template(self.bucket), headers):
                ack = await self._js.publish(kv_put_subject(self.bucket, key, self.domain), payload, headers=headers)
        except APIError as exc:
            if exc.err_code in _WRONG_LAST_SEQUENCE:
                told = _WRONG_LAST.search(exc.description or "")
                raise Conflict(
                    f"{self.bucket}/{key} changed since revision {headers.get(_EXPECTED_LAST)}",
                    int(told.group(1)) if told else None,
                ) from None
            metrics.PUBLISH_ERRORS.labels(str(self.bucket)).inc()
            raise
        except Exception:
            metrics.PUBLISH_ERRORS.labels(str(self.bucket)).inc()
            raise
        _resume_cancellation()
        return ack.seq

    async def put(self, key: str, value: M) -> int:
        return await self._publish(key, encode(value), {})

    async def create(self, key: str, value: M, payload: bytes | None = None) -> int:
        """Write only if the key does not exist (or is a tombstone). A key never written, the common case, takes
        one round trip (nats.go's KV create does the same); a tombstone's revision is read first. ``payload``:
        ``value`` encoded already."""
        payload = encode(value) if payload is None else payload
        with contextlib.suppress(Conflict):
            return await self._publish(key, payload, {_EXPECTED_LAST: "0"})
        existing = await self.get(key)
        if existing is not None:
            raise Conflict(f"{self.bucket}/{key} already exists")
        last = await self._last_sequence(key)
        return await self._publish(key, payload, {_EXPECTED_LAST: str(last)})

    async def update(self, key: str, value: M, revision: int, payload: bytes | None = None) -> int:
        payload = encode(value) if payload is None else payload
        return await self._publish(key, payload, {_EXPECTED_LAST: str(revision)})

    async def put_if_changed(self, key: str, value: M) -> Outcome:
        """Write ``value`` unless the stored value already equals it; compare-and-set, retried on conflict."""
        for _ in range(5):
            current = await self.get(key)
            if current is not None and current.value == value:
                return Outcome.UNCHANGED
            try:
                if current is None:
                    await self.create(key, value)
                    return Outcome.CREATED
                await self.update(key, value, current.revision)
                return Outcome.UPDATED
            except Conflict:
                await asyncio.sleep(0)
        raise Conflict(f"{self.bucket}/{key} kept changing under us")

    async def delete(self, key: str, revision: int | None = None) -> Outcome:
        """Leave a tombstone (history stays readable); with ``revision``, only if unchanged since.

        With ``revision`` the tombstone is written compare-and-set at once: the key is read only when that is
        refused, to tell a key deleted already (``UNCHANGED``, as without) from one written since (``Conflict``)."""
        if revision is None:
            if await self.get(key) is None:
                return Outcome.UNCHANGED
            await self._publish(key, b"", {KV_OPERATION: "DEL"})
            return Outcome.DELETED
        try:
            await self._publish(key, b"", {KV_OPERATION: "DEL", _EXPECTED_LAST: str(revision)})
        except Conflict:
            if await self.get(key) is None:
                return Outcome.UNCHANGED
            raise
        return Outcome.DELETED

    async def _last_sequence(self, key: str) -> int:
        return await latest_sequence(self._js, kv_stream(self.bucket), kv_subject(self.bucket, key))

    async def last_revision(self, pattern: str = ">") -> int:
        """The revision of the latest write (deletes included) to any key matching ``pattern``; 0 if none.

        One request to the stream, no consumer: what a cache must have seen to answer as the bucket
        stands now (``KVCache.catch_up``).
        """
        revision = await latest_sequence(self._js, kv_stream(self.bucket), kv_subject(self.bucket, pattern))
        _resume_cancellation()
        return revision

    async def entries(self, pattern: str = ">") -> list[Entry[M]]:
        """Every live entry whose key matches ``pattern``; values that fail to decode are logged and skipped."""
        found: list[Entry[M]] = []
        async for change in self.watch(pattern, follow=False):
            if change.deleted:
                continue
            try:
                entry = await self.get(change.key)
            except InvalidValue:
                continue  # kept as a dead letter
            if entry is not None:
                found.append(entry)
        return found

    def change_of(self, msg: Msg) -> KeyChange:
        """What a message of this bucket's stream says happened to which key."""
        headers = dict(msg.headers or {})
        key = msg.subject.removeprefix(kv_subject(self.bucket, ""))
        deleted = headers.get(KV_OPERATION) in ("DEL", "PURGE")
        metrics.WATCH_PENDING.labels(str(self.bucket)).set(msg.metadata.num_pending)
        return KeyChange(key, msg.metadata.sequence.stream, deleted, headers)

    async def subscribe(
        self, pattern: str, on_message: Callable[[Msg], Awaitable[None]], *, headers_only: bool, after: int = 0
    ) -> OrderedConsumer:
        """One ordered consumer: the latest revision of every matching key, then every later change; with
        ``after``, every change after that revision instead.

        It resumes by itself after a gap or a silent server, and at once when the connection is back
        (``reconnects``), from the revision after the last one it delivered: nothing is missed and nothing is
        loaded again.
        """
        consumer = OrderedConsumer(
            self._js,
            kv_stream(self.bucket),
            kv_subject(self.bucket, pattern),
            on_message,
            owner=self.owner,
            headers_only=headers_only,
        )
        await consumer.start(after)
        if self.reconnects is not None:
            self.reconnects.add(consumer.restart)
        return consumer

    async def watch(self, pattern: str = ">", *, follow: bool = True) -> AsyncIterator[KeyChange]:
        """The latest revision of every matching key, then (with ``follow``) every later change."""
        if not follow and await self.last_revision(pattern) == 0:
            return  # no key ever matched: no message would come to say so
        queue: asyncio.Queue[KeyChange | None] = asyncio.Queue()

        async def on_message(msg: Msg) -> None:
            await queue.put(self.change_of(msg))
            if not follow and msg.metadata.num_pending == 0:
                await queue.put(None)

        subscription = await self.subscribe(pattern, on_message, headers_only=True)
        try:
            while (change := await queue.get()) is not None:
                yield change
        finally:
            await self.unsubscribe(subscription)

    async def unsubscribe(self, subscription: OrderedConsumer) -> None:
        """Stop the consumer, and delete it now when this user may: left to expire, each watch would hold a
        consumer for its inactivity threshold, and frequent short watches pile up to the server's limit."""
        if self.reconnects is not None:
            self.reconnects.discard(subscription.restart)
        await subscription.stop()
