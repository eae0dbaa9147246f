"""A request/reply channel of JSON lines between the simulator and one of its member processes.

Either side may call the other: ``await channel.call("op", **args)`` sends
``{"id", "op", "args"}`` and waits for ``{"id", "result"}`` or ``{"id", "error"}``;
``channel.tell("op", **args)`` sends a request without an id and expects no reply.
Requests are handled in the order they arrive: a synchronous handler runs before the next
line is read, so a ``tell`` (a fault) and the ``call`` after it take effect in that order;
a coroutine handler runs as its own task, so a slow one does not hold up the rest.
An ``OSError`` raised by a handler (an address already taken) is raised again, with its
errno, at the caller, which treats it as it would a local one.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("fedstate_sim.channel")
Handler = Callable[..., Any]
# One line carries at most a member launch or a shell run: a MiB is far more than either.
LINE_LIMIT = 1 << 20


class ChannelClosed(ConnectionError):
    """The other side went away; nothing more can be asked of it."""


class RemoteError(RuntimeError):
    """A handler on the other side failed with something other than an OSError."""


class Channel:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handlers: Mapping[str, Handler], name: str
    ) -> None:
        self.name = name
        self._reader = reader
        self._writer = writer
        self._handlers = dict(handlers)
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed: str | None = None

    @classmethod
    async def over_socket(cls, sock: Any, handlers: Mapping[str, Handler], name: str) -> Channel:
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=LINE_LIMIT)
        return cls(reader, writer, handlers, name)

    async def call(self, op: str, **args: Any) -> Any:
        self._check_open()
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        self._send({"id": call_id, "op": op, "args": args})
        try:
            return await future
        finally:
            self._waiting.pop(call_id, None)

    def tell(self, op: str, **args: Any) -> None:
        self._check_open()
        self._send({"op": op, "args": args})

    async def serve(self) -> None:
        """Read until the other side closes; then every pending call fails with ``ChannelClosed``."""
        try:
            while line := await self._reader.readline():
                self._receive(json.loads(line))
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            log.debug("fedstate simulator: channel %s: %s", self.name, error)
        finally:
            self._end(f"channel {self.name} closed")

    async def aclose(self) -> None:
        """Send what is queued, then close."""
        self._end(f"channel {self.name} closed")
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()

    # ---- internals ---------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed is not None:
            raise ChannelClosed(self._closed)

    def _send(self, message: dict[str, Any]) -> None:
        self._writer.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    def _receive(self, message: dict[str, Any]) -> None:
        if "op" not in message:
            future = self._waiting.get(message["id"])
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(_raised(message["error"]))
                else:
                    future.set_result(message.get("result"))
            return
        call_id = message.get("id")
        try:
            outcome = self._handlers[message["op"]](**message["args"])
        except Exception as error:
            self._reply(call_id, error=error)
            return
        if inspect.isawaitable(outcome):
            task = asyncio.ensure_future(self._finish(call_id, outcome))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._reply(call_id, result=outcome)

    async def _finish(self, call_id: int | None, outcome: Any) -> None:
        try:
            result = await outcome
        except Exception as error:
            self._reply(call_id, error=error)
        else:
            self._reply(call_id, result=result)

    def _reply(self, call_id: int | None, *, result: Any = None, error: Exception | None = None) -> None:
        if error is not None and not isinstance(error, OSError):
            log.error("fedstate simulator: channel %s: handler failed", self.name, exc_info=error)
        if call_id is None or self._closed is not None:
            return
        if error is None:
            self._send({"id": call_id, "result": result})
        else:
            described = {"type": type(error).__name__, "message": str(error), "os": isinstance(error, OSError)}
            if isinstance(error, OSError) and error.errno is not None:
                described.update(errno=error.errno, message=error.strerror or str(error))
            self._send({"id": call_id, "error": described})

    def _end(self, why: str) -> None:
        if self._closed is not None:
            return
        self._closed = why
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ChannelClosed(why))


def _raised(error: dict[str, Any]) -> Exception:
    if error.get("errno") is not None:
        return OSError(error["errno"], error["message"])
    if error.get("os"):
        return OSError(error["message"])
    return RemoteError(f"{error['type']}: {error['message']}")
