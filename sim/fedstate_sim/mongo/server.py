"""The TCP side of one simulated member: an asyncio listener on host:port and its client connections.

Each connection reads messages one at a time (as mongod does per connection),
dispatches the command and writes the reply: OP_MSG for OP_MSG, OP_REPLY for a
legacy OP_QUERY on ``<db>.$cmd``. A request with moreToCome gets no reply. A malformed
OP_MSG (bad BSON, unknown section kind, no body) gets mongod's error reply and the
connection stays open; bytes that cannot be framed close the connection. An
awaitable hello sent with exhaustAllowed turns the connection into a stream:
every topology change (or maxAwaitTimeMS) produces another reply flagged
moreToCome, without a new request, as mongod's streaming monitor protocol does.
Closing the server closes the listener and aborts every connection, so drivers
see a failed cluster at once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from fedstate_sim.mongo.commands import CommandContext, ConnectionState
from fedstate_sim.mongo.commands.hello import is_awaitable
from fedstate_sim.mongo.errors import Code, sim_message
from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.wire import (
    HEADER,
    OP_QUERY,
    MalformedMessage,
    ProtocolError,
    Request,
    encode_op_msg,
    encode_op_reply,
    parse_header,
    parse_request,
)

log = logging.getLogger("fedstate_sim.mongo")
Dispatch = Callable[[CommandContext, dict[str, Any]], Awaitable[dict[str, Any]]]
BACKLOG = 512
ACCEPT_RETRY_SECONDS = 1.0


class MemberServer:
    """Listener and connections of one member."""

    def __init__(self, member: Member, dispatch: Dispatch) -> None:
        self.member = member
        self._dispatch = dispatch
        self._socket: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()  # handlers serving a connection
        self._handlers: set[asyncio.Task[None]] = set()  # every handler, started or not
        self._reply_ids = itertools.count(1)
        # Each listen() and close() starts a new generation: a connection accepted under an older one whose handler
        # had not started when close() aborted the others is aborted as it starts (mongod's exit closes every
        # socket). Left open, it answered for a member that had stopped, and an awaitable hello on it waited for a
        # topology change that never came.
        self._generation = 0

    @property
    def listening(self) -> bool:
        return self._socket is not None

    def listen(self) -> None:
        """Bind and listen now (connections queue in the backlog); accept from a task."""
        launch = self.member.launch
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((launch.host, launch.port))
            sock.listen(BACKLOG)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self._generation += 1
        self._accepting = asyncio.get_running_loop().create_task(self._accept(sock, self._generation))

    async def start(self) -> None:
        self.listen()

    async def _accept(self, sock: socket.socket, generation: int) -> None:
        """Accept connections one at a time, each then served by a task of its own.

        Not ``asyncio.start_server``: a connection its server had accepted but not yet wrapped when the server closed
        was left open and unanswered (CPython 3.11: ``Server._attach`` asserts that the server still listens, and the
        error is swallowed with the socket still open). A client saw a member that neither answered nor hung up until
        the socket was garbage-collected, minutes later; a stopped mongod closes every socket it holds."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as error:
                # Out of descriptors, say: mongod keeps listening and accepts again once it can (asyncio's own
                # server waits a second the same way).
                self.member.log("cannot accept a connection: %s", error, level=logging.WARNING)
                await asyncio.sleep(ACCEPT_RETRY_SECONDS)
                continue
            try:
                reader, writer = await asyncio.open_connection(sock=conn)
            except OSError:
                conn.close()  # the client already gone
                continue
            except BaseException:
                conn.close()  # cancelled as the member stops: nothing left open
                raise
            # Held until done; close() cancels it only once it serves (``_tasks``): one cancelled before it starts
            # would never run, and never close its connection.
            handler = loop.create_task(self._handle(generation, reader, writer))
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)

    def close(self) -> None:
        """Stop listening and abort every client connection."""
        self._generation += 1
        sock, accepting = self._socket, self._accepting
        self._socket = self._accepting = None
        if sock is not None:
            # The accept's reader goes before the socket closes, as asyncio's own server does: the listener of the
            # member's successor may be given the same descriptor at once, and a late clean-up by number would
            # remove that one's reader instead.
            asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()
        if accepting is not None:
            accepting.cancel()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()

    async def _handle(self, generation: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if generation != self._generation:
            writer.transport.abort()
            return
        member = self.member
        member.connection_ids += 1
        member.open_connections += 1
        conn = ConnectionState(member.connection_ids, _peer_name(writer))
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._converse(reader, writer, conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except ProtocolError as error:
            member.log("closing connection %d: %s", conn.id, error, level=logging.WARNING)
        except asyncio.CancelledError:
            pass  # close() cancelled this connection's task; it is the task's outermost frame
        finally:
            member.open_connections -= 1
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: ConnectionState
    ) -> None:
        while True:
            try:
                request = await _read_request(reader)
            except MalformedMessage as error:  # mongod answers these with an error and keeps the connection
                self.member.log("malformed OP_MSG on connection %d: %s", conn.id, error.message, level=logging.WARNING)
                writer.write(encode_op_msg(error.request_id, next(self._reply_ids), error.to_doc()))
                await writer.drain()
                continue
            if request is None:
                return
            await self._respond(request, conn, writer)

    async def _respond(self, request: Request, conn: ConnectionState, writer: asyncio.StreamWriter) -> None:
        read_preference = request.command.get("$readPreference") or request.extras.get("$readPreference")
        ctx = CommandContext(self.member, conn, request.db, request.legacy_secondary_ok, read_preference)
        if request.op_code == OP_QUERY:
            writer.write(encode_op_reply(request.request_id, next(self._reply_ids), await self._legacy(ctx, request)))
            await writer.drain()
            return
        reply = await self._dispatch(ctx, request.command)
        if request.more_to_come:
            return
        stream = request.exhaust_allowed and is_awaitable(request.command) and reply.get("ok") == 1
        stream = stream and "topologyVersion" in reply  # a release before 4.4 never holds a hello
        response_to = request.request_id
        while True:
            reply_id = next(self._reply_ids)
            writer.write(encode_op_msg(response_to, reply_id, reply, more_to_come=stream))
            await writer.drain()
            if not stream:
                return
            response_to = reply_id
            reply = await self._dispatch(ctx, {**request.command, "topologyVersion": reply["topologyVersion"]})

    async def _legacy(self, ctx: CommandContext, request: Request) -> dict[str, Any]:
        if request.extras.get("collection") != "$cmd":
            return {
                "$err": sim_message("OP_QUERY is only supported for commands"),
                "code": int(Code.CommandNotFound),
                "ok": 0.0,
            }
        return await self._dispatch(ctx, request.command)


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request, or None at a clean end of stream."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            return None
        raise
    length, request_id, _, op_code = parse_header(header)
    body = await reader.readexactly(length - HEADER.size)
    return parse_request(request_id, op_code, body)


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
