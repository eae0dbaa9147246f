"""``python -m fedstate_gateway``: serve the REST API with uvicorn, configured from ``FEDSTATE_*`` and flags."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import uvicorn

from fedstate import telemetry
from fedstate.heap import HeapKeeper
from fedstate.service import exit_without_collecting, settle_start_up
from fedstate.settings import load_settings

from .app import SERVICE_NAME, create_app
from .settings import GatewaySettings

DATE_SECONDS = 1.0


class Server(uvicorn.Server):
    """uvicorn, which lets the responses in flight finish before it stops: it first ends every watch (which
    would not end by itself for half an hour); their clients resume elsewhere or once it is back."""

    def __init__(self, config: uvicorn.Config, stopping: Callable[[], None]) -> None:
        super().__init__(config)
        self.stopping = stopping

    async def main_loop(self) -> None:
        """Once a second, not ten times: the Date header changes once a second, and ten wakeups a second were
        much of an idle gateway's CPU. A stop is seen within a second."""
        # uvicorn offers a flag (should_exit), not an event; tick 0 refreshes the Date header.
        while not await self.on_tick(0):  # noqa: ASYNC110
            await asyncio.sleep(DATE_SECONDS)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.stopping()
        await super().shutdown(sockets)


def main() -> None:
    settings = load_settings(GatewaySettings)
    telemetry.setup_logging(SERVICE_NAME, settings.log_level)
    telemetry.setup_tracing(SERVICE_NAME, settings.spans_file)
    heap = HeapKeeper()
    app = create_app(settings, heap=heap)
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )
    settle_start_up(heap)
    Server(config, app.state.gateway.end_watches).run()
    exit_without_collecting()


if __name__ == "__main__":
    main()
