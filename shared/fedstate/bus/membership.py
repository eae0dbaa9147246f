"""A server leaving the NATS cluster re-creates every watch of a connection at once (decision 0024).

A watch's consumer is R1: JetStream puts it on any server holding a copy of its stream, most often not the one
the client is connected to. When that server dies, the client stays connected and its consumer is simply gone;
the watch would learn it from two missed idle heartbeats (10 s, and 30 s for a member cluster's watch, decision
0021), and whatever was written meanwhile would wait that long. The server the client is connected to knows at
once: it loses its route to the peer and sends its clients an INFO whose ``connect_urls`` no longer list it.
nats-py keeps those URLs for reconnecting but has no callback for one that leaves, so the connection's INFO
handler is wrapped here; without it (another nats-py, a server that does not advertise its peers, a leaf node)
the heartbeats still notice, only later.

A server coming back joins its routes one by one, and its peers' INFOs may drop it again for a moment while they
do: a server that left is acted on only if it is still missing ``CONFIRM_SECONDS`` later, so a rejoin re-creates
nothing (a loss still costs a second, not two heartbeats).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client

log = logging.getLogger(__name__)

SERVER_LEFT = "a server left the NATS cluster"
CONFIRM_SECONDS = 1.0


class ClusterMembership:
    """The client URLs of the servers in the connected server's cluster, as its INFO messages list them."""

    def __init__(self, on_loss: Callable[[str], Awaitable[None]], confirm_seconds: float = CONFIRM_SECONDS) -> None:
        self._on_loss = on_loss
        self._confirm_seconds = confirm_seconds
        self._advertised: frozenset[str] = frozenset()
        self._confirming: set[asyncio.Task[None]] = set()  # losses waiting to be confirmed: referenced until done

    def follow(self, nc: Client) -> bool:
        """Wrap ``nc``'s INFO handler; False when this nats-py has none to wrap (the heartbeats then notice)."""
        original = getattr(nc, "_process_info", None)
        if original is None:
            log.warning("cannot follow the NATS cluster's servers: watches notice a lost one by its heartbeats")
            return False
        self._advertised = advertised(getattr(nc, "_server_info", {})) or frozenset()

        async def process_info(info: dict[str, Any], initial_connection: bool = False) -> None:
            await original(info, initial_connection)
            await self.seen(info, initial_connection=initial_connection)

        nc._process_info = process_info  # type: ignore[method-assign]
        return True

    async def seen(self, info: dict[str, Any], *, initial_connection: bool = False) -> None:
        """An INFO from the connected server: when a server it listed before is gone, and still is a moment later,
        every watch starts again. The first INFO of a new connection only sets the list (the reconnect re-creates
        the watches itself). Runs inside nats-py's reader: the wait is a task of its own."""
        now = advertised(info)
        if now is None:
            return  # an INFO about something else (lame duck mode, a new nonce): the cluster is as it was
        lost, self._advertised = self._advertised - now, now
        if lost and not initial_connection:
            task = asyncio.create_task(self._confirm(lost), name="confirm-server-left")
            self._confirming.add(task)
            task.add_done_callback(self._confirming.discard)

    async def _confirm(self, lost: frozenset[str]) -> None:
        await asyncio.sleep(self._confirm_seconds)
        gone = lost - self._advertised
        if gone:
            log.info("a NATS server left the cluster, re-creating every watch", extra={"servers": sorted(gone)})
            await self._on_loss(SERVER_LEFT)

    async def settled(self) -> None:
        """Until every loss seen so far is confirmed or found to be none."""
        while self._confirming:
            await asyncio.gather(*self._confirming)


def advertised(info: dict[str, Any]) -> frozenset[str] | None:
    urls = info.get("connect_urls")
    return frozenset(urls) if isinstance(urls, list) else None
