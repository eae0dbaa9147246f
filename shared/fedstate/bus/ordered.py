"""An ordered consumer created under a name, so that a NATS permission can pin what it reads.

nats-py creates its ordered consumers unnamed (``$JS.API.CONSUMER.CREATE.<stream>``, the filter in the body,
where no permission can see it) and re-creates them after a gap with the same configuration. This one is created
through ``$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>``: the server refuses a body whose filter differs from
the subject's, so a user allowed only ``…CREATE.KV_fs-dataplane.*.$KV.fs-dataplane.member-1.>`` reads only
member-1's keys. Each (re)creation takes a fresh name, as nats.go's ordered consumers do: a fixed name would
collide with the consumer it replaces, which lingers until its inactivity threshold, and taking the name over
would need a right to delete consumers that a member cluster must not have (it could delete anyone's).

Semantics are nats-py's ordered consumer's: messages in stream order, no acks, flow control, idle heartbeats; a
gap in the consumer sequence, two missed heartbeats, a reconnect or a server leaving the cluster (``restart``)
creates a new consumer from the stream sequence after the last one delivered, so nothing is missed and nothing is
delivered twice.

A consumer re-created while the cluster moves (a server lost, a leader being elected) can be alive, heartbeating,
and yet deliver nothing: heartbeats alone cannot tell it from a quiet stream. So each re-created consumer is
checked once: the stream's latest matching revision is asked for (one direct get), and a consumer that has not
delivered up to it within ``BEHIND_SECONDS`` is replaced again. The cost follows the re-creations, not the time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError, ServiceUnavailableError
from nats.nuid import NUID

from .metrics import CONSUMERS_REPLACED
from .names import consumer_name

log = logging.getLogger(__name__)

IDLE_HEARTBEAT_SECONDS = 5.0
# A member cluster's consumers heartbeat less often: their number grows with the fleet, and an idle agent's four
# watches' heartbeats cost it more than its lease (decision 0021). A consumer lost with its server is noticed after
# two missed ones, 30 s; a reconnect re-creates every watch at once, as for anyone.
MEMBER_IDLE_HEARTBEAT_SECONDS = 15.0
MISSED_HEARTBEATS = 2
# A consumer nobody listens to any more (its watcher stopped or lost the connection) vanishes after this: every
# reader re-creates its consumer after a reconnect anyway, and a member cluster has no right to delete one.
INACTIVE_THRESHOLD_SECONDS = 30.0
RECREATE_RETRY_SECONDS = 0.5
# A re-created consumer that has not delivered the stream's latest matching revision after this is replaced again:
# twice the control plane's idle heartbeat, after which a dead one would have been replaced anyway.
BEHIND_SECONDS = 10.0
BEHIND = f"behind the stream for {BEHIND_SECONDS:g} s after a re-creation"
START_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)

RECONNECTED = "the connection is back"
_STATUS = "Status"
_CONTROL = "100"


@dataclass(frozen=True)
class ConsumerOwner:
    """Whose consumers these are: the name theirs start with (the bus user, or the connection's name), and whether
    it may delete them (a member cluster may not: it could delete anyone's)."""

    name: str = "fedstate"
    deletes: bool = True
    idle_heartbeat_seconds: float = IDLE_HEARTBEAT_SECONDS  # how often an idle consumer of theirs says it lives


ANYONE = ConsumerOwner()  # a connection without a bus user: it may do anything, delete included


async def latest_sequence(js: JetStreamContext, stream: str, subject: str) -> int:
    """The stream sequence of the latest message on ``subject`` (wildcards allowed), 0 when there is none. One
    direct get, with the subject in the request's own subject, so a permission can pin what a user may ask after
    (a member cluster's agent: only its own keys)."""
    try:
        msg = await js.get_msg(stream, subject=subject, direct=True)
    except NotFoundError:
        return 0
    return msg.seq or 0


class OrderedConsumer:
    """One filtered, ordered push consumer of ``stream`` for the life of a watch; see the module docstring."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        filter_subject: str,
        on_message: Callable[[Msg], Awaitable[None]],
        *,
        owner: ConsumerOwner,
        headers_only: bool,
    ) -> None:
        self._js, self._nc = js, cast(Client, js._nc)  # type: ignore[attr-defined]
        self._stream, self._filter, self._headers_only = stream, filter_subject, headers_only
        self._on_message = on_message
        self._owner = owner
        self._nuid = NUID()
        self._name = ""
        self._subscription: Subscription | None = None
        self._stream_seq = 0  # the stream sequence of the last message delivered
        self._consumer_seq = 0  # its sequence in the current consumer
        self._active = True
        self._heartbeats: asyncio.Task[None] | None = None
        self._recreating: asyncio.Task[None] | None = None
        self._checking: asyncio.Task[None] | None = None  # that the consumer re-created last delivers
        self._stopped = False
        self._generation = 0  # of the current consumer: messages of one it replaced may still be queued
        self._deleting: set[asyncio.Task[None]] = set()  # consumers replaced, being deleted: referenced until done

    @property
    def name(self) -> str:
        return self._name

    async def start(self, after: int = 0) -> None:
        """The latest message of every matching subject then every later one; with ``after``, every message after
        that stream sequence instead."""
        self._stream_seq = after
        await self._create_once_answered(resume=after > 0)
        self._heartbeats = asyncio.create_task(self._watch_heartbeats(), name=f"heartbeats-{self._stream}")

    async def restart(self, why: str = RECONNECTED) -> None:
        """A new consumer from the message after the last one delivered (the connection is back: the old consumer
        may be gone with a restarted server, or may have sent what never arrived)."""
        if self._stopped:
            return
        # One re-creation at a time: two at once would leave one consumer without anybody listening.
        await asyncio.shield(self._replace_soon(why))

    async def stop(self) -> None:
        self._stopped = True
        for task in (self._heartbeats, self._recreating, self._checking):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._drop_current()

    async def _create(self, *, resume: bool) -> None:
        self._generation += 1
        self._consumer_seq, self._active = 0, True
        inbox = self._nc.new_inbox()
        subscription = await self._nc.subscribe(inbox, cb=self._handler(self._generation))
        self._name = consumer_name(self._owner.name, self._nuid.next().decode())
        config = api.ConsumerConfig(
            name=self._name,
            filter_subject=self._filter,
            deliver_subject=inbox,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE if resume else api.DeliverPolicy.LAST_PER_SUBJECT,
            opt_start_seq=self._stream_seq + 1 if resume else None,
            ack_policy=api.AckPolicy.NONE,
            max_deliver=1,
            flow_control=True,
            idle_heartbeat=self._owner.idle_heartbeat_seconds,
            headers_only=self._headers_only or None,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=INACTIVE_THRESHOLD_SECONDS,
        )
        try:
            await self._js.add_consumer(self._stream, config)
        except BaseException:
            await subscription.unsubscribe()
            raise
        self._subscription = subscription

    async def _create_once_answered(self, *, resume: bool) -> None:
        """Create the consumer, asking again while JetStream does not answer (a server restarting or recovering its
        streams, a loaded machine): a service starting then waits for its watch instead of dying without it. A
        refusal (no permission, no such stream) is raised at once."""
        for pause in itertools.chain(START_RETRY_SECONDS, itertools.repeat(START_RETRY_SECONDS[-1])):
            try:
                await self._create(resume=resume)
                return
            except (TimeoutError, NoRespondersError, ServiceUnavailableError) as exc:
                if self._refused():
                    raise
                log.warning(
                    "consumer not created yet: JetStream does not answer",
                    extra={"stream": self._stream, "error": repr(exc), "retry_in": pause},
                )
                await asyncio.sleep(pause)

    def _refused(self) -> bool:
        """Whether the server refused this creation: it says so on the connection (a permissions violation naming
        the consumer), and the request itself only times out."""
        error = str(self._nc.last_error or "").lower()  # nats-py lowercases the server's error
        return "permissions violation" in error and self._name.lower() in error

    def _handler(self, generation: int) -> Callable[[Msg], Awaitable[None]]:
        async def handle(msg: Msg) -> None:
            if generation != self._generation or self._stopped:
                return
            self._active = True
            headers = msg.headers or {}
            if headers.get(_STATUS) == _CONTROL and not msg.data:
                await self._control(msg, headers)
                return
            meta = msg.metadata
            if meta.sequence.consumer != self._consumer_seq + 1:
                # A message was lost (a slow consumer, a reconnect): start again after the last.
                self._replace_soon("a message was missed")
                return
            self._consumer_seq, self._stream_seq = meta.sequence.consumer, meta.sequence.stream
            await self._on_message(msg)

        return handle

    async def _control(self, msg: Msg, headers: dict[str, str]) -> None:
        """Answer flow control (this runs after every earlier message was handled); check a heartbeat's sequence."""
        if msg.reply:
            await self._nc.publish(msg.reply)
            return
        stalled = headers.get(api.Header.CONSUMER_STALLED)
        if stalled:
            await self._nc.publish(stalled)
        last = headers.get(api.Header.LAST_CONSUMER)
        if last is not None and int(last) != self._consumer_seq:
            self._replace_soon("a heartbeat names a message never received")

    async def _watch_heartbeats(self) -> None:
        while not self._stopped:
            await asyncio.sleep(self._owner.idle_heartbeat_seconds * MISSED_HEARTBEATS)
            if not self._active:
                self._replace_soon(f"no heartbeat for {self._owner.idle_heartbeat_seconds * MISSED_HEARTBEATS:g} s")
            self._active = False

    def _replace_soon(self, why: str) -> asyncio.Task[None]:
        """The re-creation under way, or a new one (a gap, a silent consumer, a reconnect all lead here)."""
        if self._recreating is None or self._recreating.done():
            log.info(
                "re-creating a watch's consumer",
                extra={"stream": self._stream, "filter": self._filter, "consumer": self._name, "reason": why},
            )
            self._recreating = asyncio.create_task(self._replace(), name=f"recreate-{self._stream}")
        return self._recreating

    async def _replace(self) -> None:
        # The old consumer is deleted in the background: when its server is the one that died, the request waits
        # for its timeout, and the watch should not wait with it.
        await self._drop_current(wait=False)
        CONSUMERS_REPLACED.labels(self._stream).inc()
        while not self._stopped:
            try:
                await self._create(resume=True)
                break
            except (NatsError, TimeoutError) as exc:  # a restarted server is still recovering its streams
                log.debug("consumer not re-created yet", extra={"stream": self._stream, "error": repr(exc)})
                await asyncio.sleep(RECREATE_RETRY_SECONDS)
        if not self._stopped:
            if self._checking is not None:
                self._checking.cancel()  # it checked a consumer that is gone
            self._checking = asyncio.create_task(self._check_delivers(), name=f"check-{self._stream}")

    async def _check_delivers(self) -> None:
        """Once the stream's latest matching revision is known, wait up to ``BEHIND_SECONDS`` for the consumer to
        deliver it; replace the consumer if it does not (the new one is checked in turn)."""
        generation = self._generation
        latest = await self._latest_revision()
        if latest is None or generation != self._generation:
            return  # stopped, or replaced meanwhile: the replacement checks itself
        delivered = asyncio.get_running_loop().time() + BEHIND_SECONDS
        while self._stream_seq < latest and generation == self._generation and not self._stopped:
            if asyncio.get_running_loop().time() >= delivered:
                self._replace_soon(BEHIND)
                return
            await asyncio.sleep(RECREATE_RETRY_SECONDS)

    async def _latest_revision(self) -> int | None:
        """The stream sequence of the latest message matching the filter (``latest_sequence``), asked until
        answered; None once stopped."""
        while not self._stopped:
            try:
                return await latest_sequence(self._js, self._stream, self._filter)
            except (NatsError, TimeoutError) as exc:  # no leader yet, or the server answering is restarting
                log.debug("latest revision not known yet", extra={"stream": self._stream, "error": repr(exc)})
                await asyncio.sleep(RECREATE_RETRY_SECONDS)
        return None

    async def _drop_current(self, *, wait: bool = True) -> None:
        self._generation += 1
        subscription, self._subscription = self._subscription, None
        if subscription is None:
            return
        with contextlib.suppress(NatsError):
            await subscription.unsubscribe()
        if self._owner.deletes and self._nc.is_connected:
            # Deleted now rather than left to its inactivity threshold: frequent short watches would pile up.
            deletion = self._delete(self._name)
            if wait:
                await deletion
            else:
                task = asyncio.create_task(deletion, name=f"delete-{self._name}")
                self._deleting.add(task)
                task.add_done_callback(self._deleting.discard)

    async def _delete(self, name: str) -> None:
        # Gone already (NotFound), or its server with it (a timeout), or the connection closed meanwhile.
        with contextlib.suppress(NatsError, TimeoutError):
            await self._js.delete_consumer(self._stream, name)
