"""The HTTP listener of one simulated cluster, on its VIP and a port chosen once.

Failing the cluster closes the listener and every open connection; the port stays reserved by
a bound, non-listening socket, so connections are refused (RST) until recovery listens again on
the very same port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from aiohttp import web

_SHUTDOWN_GRACE = 0.25


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class Listener:
    def __init__(self, host: str, app_factory: Callable[[], web.Application]) -> None:
        self.host = host
        self.port = 0
        self._make_app = app_factory
        self._runner: web.AppRunner | None = None
        self._reserved: socket.socket | None = None

    @property
    def up(self) -> bool:
        return self._runner is not None

    async def open(self) -> None:
        """Listen (again) on host:port; the first call picks an ephemeral port."""
        if self._runner is not None:
            return
        sock = self._reserved or _bind(self.host, self.port)
        self._reserved = None
        self.port = sock.getsockname()[1]
        runner = web.AppRunner(
            self._make_app(), handler_cancellation=True, shutdown_timeout=_SHUTDOWN_GRACE, access_log=None
        )
        await runner.setup()
        await web.SockSite(runner, sock, backlog=1024).start()
        self._runner = runner

    async def close(self, reserve: bool = True) -> None:
        """Stop listening and drop every connection; keep the port reserved unless told otherwise."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if reserve and self._reserved is None and self.port:
            self._reserved = _bind(self.host, self.port)
        if not reserve and self._reserved is not None:
            self._reserved.close()
            self._reserved = None
