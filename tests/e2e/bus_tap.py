"""Everything the bus carries and keeps, as its admin sees it: every message published while the tap runs
(each KV write, however soon a later one replaces it, each event) and, when it stops, every message every
stream still holds (each bucket's history included)."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Self

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError

from fedstate.bus.names import intake_subject
from fedstate.cli.localstack import LocalStack

# Intake requests (what a user sent, their secrets sealed by the submitter) are tapped as every other message.
INTAKE = intake_subject("")


class BusListener:
    """A connection of the stack's admin, in a thread of its own, for the life of a ``with`` block: ``follow``
    subscribes before the block starts, ``finish`` runs as it ends."""

    def __init__(self, stack: LocalStack) -> None:
        self._options = {"servers": [stack.nats_url], **stack.nats_options()}
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(30), "the listener did not connect"
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(120)

    async def _run(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        nc = await nats.connect(**self._options)
        await self.follow(nc)
        await nc.flush()
        self._ready.set()
        await self._stop.wait()
        await self.finish(nc)
        await nc.close()

    async def follow(self, nc: NATS) -> None:
        raise NotImplementedError

    async def finish(self, nc: NATS) -> None:
        """What to do as the block ends, still connected."""


class BusTap(BusListener):
    def __init__(self, stack: LocalStack) -> None:
        super().__init__(stack)
        self.published: list[tuple[str, bytes]] = []
        self.stored: list[tuple[str, bytes]] = []
        self._subscription: Subscription | None = None

    async def follow(self, nc: NATS) -> None:
        async def record(msg: Msg) -> None:
            self.published.append((msg.subject, msg.data + str(msg.headers or "").encode()))

        self._subscription = await nc.subscribe(">", cb=record)

    async def finish(self, nc: NATS) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        js = nc.jetstream()
        for stream in await js.streams_info():
            if not stream.state.messages:
                continue
            for sequence in range(stream.state.first_seq, stream.state.last_seq + 1):
                try:
                    msg = await js.get_msg(stream.config.name or "", sequence)
                except NotFoundError:
                    continue  # deleted, or purged by a delete marker
                self.stored.append((f"{stream.config.name}#{sequence}", (msg.data or b"") + str(msg.headers).encode()))

    def intake_requests(self) -> int:
        return sum(subject.startswith(INTAKE) for subject, _ in self.published)

    def where(self, secret: str) -> list[str]:
        """Where ``secret`` appears: published subjects and stored stream sequences."""
        needle = secret.encode()
        return [where for where, data in (*self.published, *self.stored) if needle in data]
