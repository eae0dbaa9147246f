"""Push, not poll: one awaitable ``hello`` held open on each member, answered as soon as its state moves.

MongoDB's server monitoring protocol (the "streaming protocol" of the Server Discovery and Monitoring
spec): a ``hello`` that carries the member's last ``topologyVersion`` and ``maxAwaitTimeMS`` is held by
the member until its topology changes — an election, a step-down, a reconfig, a restart (a new
``processId``) — or the time is up. So a member that does not change costs one answer per
``WATCH_SECONDS``, and a change is known within milliseconds.

Why not pymongo's own monitor (decision 0009): an idle ``AsyncMongoClient`` wakes about six times a second
(its periodic executors poll every 0.5 s), which made idle clients nearly all of an idle agent's CPU —
0.075 % of a core per member, 3.7 cores for 5,000 members. This watch sends one command that needs no
authentication and reads its answer with pymongo's ``bson``, as does ``ask`` for the agent's other commands that
need no login (hello, buildInfo); every command that needs a login goes through pymongo.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
from collections.abc import Callable
from typing import Any

import bson
from pymongo.errors import AutoReconnect, OperationFailure

log = logging.getLogger(__name__)

WATCH_SECONDS = 60.0  # the longest a member holds the hello: an unchanged member answers this often
CONNECT_SECONDS = 10.0
# After a lost or refused connection, then steady at the last. Quick at first: a watch usually starts while its
# member's pod is starting (its Service exists before mongod listens), and each retry there is one refused
# connect on the cluster's network; a member that stays away is asked every 30 s.
RETRY_SECONDS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
OP_MSG = 2013
_HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
_FLAGS = struct.Struct("<I")
_MAX_REPLY = 16 * 1024 * 1024
_request_ids = itertools.count(1)

Token = tuple[Any, int]  # (processId, counter): equal tokens, unchanged member


class WatchLost(Exception):
    """The member answered something that is not a hello reply."""


# How a connection to a member ends when the member is gone, slow, or answers something else.
LOST = (OSError, TimeoutError, asyncio.IncompleteReadError, WatchLost, bson.errors.BSONError)


def command_message(command: dict[str, Any]) -> bytes:
    """One OP_MSG carrying ``command`` (with its ``$db``)."""
    body = _FLAGS.pack(0) + b"\x00" + bson.encode(command)
    return _HEADER.pack(_HEADER.size + len(body), next(_request_ids), 0, OP_MSG) + body


def hello_message(topology_version: dict[str, Any] | None, max_await_ms: int) -> bytes:
    """An OP_MSG ``hello``; awaitable when it carries the member's last ``topologyVersion``."""
    command: dict[str, Any] = {"hello": 1, "$db": "admin"}
    if topology_version is not None:
        command |= {"topologyVersion": topology_version, "maxAwaitTimeMS": max_await_ms}
    return command_message(command)


def parse_document(header: bytes, body: bytes) -> dict[str, Any]:
    """The document of an OP_MSG reply (one body section), whatever it says."""
    _, _, _, op_code = _HEADER.unpack(header)
    if op_code != OP_MSG or len(body) < _FLAGS.size + 1 or body[_FLAGS.size] != 0:
        raise WatchLost(f"unexpected reply (opCode {op_code})")
    reply: dict[str, Any] = bson.decode(body[_FLAGS.size + 1 :])
    return reply


def parse_reply(header: bytes, body: bytes) -> dict[str, Any]:
    """The document of a successful OP_MSG reply."""
    reply = parse_document(header, body)
    if not reply.get("ok"):
        raise WatchLost(str(reply.get("errmsg", "hello failed")))
    return reply


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One reply's header and body."""
    header = await reader.readexactly(_HEADER.size)
    length = _HEADER.unpack(header)[0]
    if not _HEADER.size < length <= _MAX_REPLY:
        raise WatchLost(f"reply of {length} bytes")
    return header, await reader.readexactly(length - _HEADER.size)


async def ask(address: str, command: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One command mongod answers before any login (hello, buildInfo), on a connection of its own closed after:
    a driver client for it would be a pool, a monitor task and a resolver thread per member. Fails as pymongo
    does: ``AutoReconnect`` (a ``ConnectionFailure``) when the member cannot be reached in time,
    ``OperationFailure`` when it refuses."""
    host, _, port = address.rpartition(":")
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, int(port))
            try:
                writer.write(command_message({**command, "$db": "admin"}))
                await writer.drain()
                reply = parse_document(*await read_message(reader))
            finally:
                writer.close()
    except LOST as exc:
        raise AutoReconnect(f"{address}: {type(exc).__name__} {exc}") from None
    if not reply.get("ok"):
        raise OperationFailure(str(reply.get("errmsg", "")), reply.get("code"), reply)
    return reply


def token_of(reply: dict[str, Any]) -> Token | None:
    version = reply.get("topologyVersion")
    if not isinstance(version, dict):
        return None
    return version.get("processId"), int(version.get("counter", 0))


class MemberWatch:
    """Calls ``changed`` when the member's topologyVersion moves, when the watch loses the member and when it
    finds it again (not for a first answer on the first try: whoever starts a watch has just looked; after a
    refused try that look is out of date; nor for an answer a pass waits for in ``look``: that pass reports it).
    ``token`` is what the member last said, None while it cannot be reached: a state observed under a token holds
    while it does."""

    def __init__(self, address: str, changed: Callable[[], None], watch_seconds: float = WATCH_SECONDS) -> None:
        host, _, port = address.rpartition(":")
        self.address = address
        self._host, self._port = host, int(port)
        self._changed = changed
        self._watch_seconds = watch_seconds
        self.token: Token | None = None
        # The member's last hello while ``token`` holds: all of it stays true until its topologyVersion moves.
        self.hello: dict[str, Any] | None = None
        # Its mongod's version (buildInfo, asked on the watch's own connection as it opens): only a restart changes
        # it, and a restart ends the connection. Asked on a connection of its own, it was one connect per member.
        self.version: str | None = None
        self._answered = False  # ever: a first answer is no news
        self._attempts = 0  # connections that answered or failed so far
        self._attempted = asyncio.Condition()
        self._lookers = 0  # passes waiting in ``look`` for the next connection's outcome
        self._kick = asyncio.Event()  # a look ends the wait before the next try
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"watch {self.address}")

    async def look(self) -> None:
        """Until the watch holds an answer from its member (``token`` set), or its next connection failed. A watch
        waiting to try again (its member refused while its pod started) tries at once: the pass that looks has
        just been told the pod is Ready, and the answer is the pass's to report, not news to enqueue another pass
        for. Asked on connections of its own, the first look at each new member was a hello and a buildInfo more,
        and the watch's own try a moment later one more pass."""
        if self.token is not None:
            return
        attempt = self._attempts
        self._lookers += 1
        self._kick.set()
        try:
            async with self._attempted:
                await self._attempted.wait_for(lambda: self._attempts > attempt or self.token is not None)
        finally:
            self._lookers -= 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self._follow()
            except LOST as exc:
                log.debug("member watch lost", extra={"member": self.address, "error": type(exc).__name__})
            self._answered = True  # whatever the member says when it is reached again is news
            if self.token is not None:  # it answered on this connection: the next failure starts the count over
                failures = 0
                self.token, self.hello, self.version = None, None, None
                self._changed()
            await self._attempt_ended()
            if not self._kick.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]):
                        await self._kick.wait()
            self._kick.clear()
            failures += 1

    async def _attempt_ended(self) -> None:
        """A connection answered, or failed: tell the passes waiting in ``look``."""
        self._attempts += 1
        async with self._attempted:
            self._attempted.notify_all()

    async def _follow(self) -> None:
        async with asyncio.timeout(CONNECT_SECONDS):  # not ``wait_for``: on 3.11 it can swallow a cancellation
            reader, writer = await asyncio.open_connection(self._host, self._port)
        try:
            # buildInfo goes with the first hello; their answers come back in order.
            writer.write(command_message({"buildInfo": 1, "$db": "admin"}))
            build: dict[str, Any] | None = None
            version: dict[str, Any] | None = None
            while True:
                writer.write(hello_message(version, int(self._watch_seconds * 1000)))
                await writer.drain()
                # A hello that is not awaitable (the connection's first) is answered at once: a member silent for
                # longer holds a half-open connection (as pymongo bounds its handshake by connectTimeoutMS).
                waited = self._watch_seconds if version is not None else 0.0
                async with asyncio.timeout(waited + CONNECT_SECONDS):
                    if build is None:
                        build = parse_reply(*await read_message(reader))
                    reply = parse_reply(*await read_message(reader))
                token, version = token_of(reply), reply.get("topologyVersion")
                self.hello, self.version = reply, str(build.get("version", ""))
                if token != self.token:
                    first = self.token is None
                    self.token = token
                    if self._answered and not (first and self._lookers):
                        self._changed()
                    self._answered = True
                    if first:
                        await self._attempt_ended()
        finally:
            writer.close()
