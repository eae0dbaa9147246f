"""A service's /metrics and /healthz server costs nothing between scrapes and stops as soon as it is told."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx

from fedstate.natsserver import free_port
from fedstate.service import EndpointServer, serve_endpoints
from fedstate.settings import ServiceSettings


async def test_an_idle_endpoint_server_sets_no_timer_and_stops_when_its_stack_closes() -> None:
    """Between scrapes the server's loop waits for its stop (uvicorn's own woke ten times a second); closing the
    service's stack ends it."""
    port = free_port()
    async with AsyncExitStack() as stack:
        server = await serve_endpoints(ServiceSettings(metrics_port=port), lambda: True, stack)
        assert isinstance(server, EndpointServer)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(600):  # until it listens: a loaded machine may take a while
                if server.started:
                    break
                await asyncio.sleep(0.05)
            assert 200 == (await client.get("/healthz")).status_code
        ticks = 0
        original = server.on_tick

        async def counted(counter: int) -> bool:
            nonlocal ticks
            ticks += 1
            return await original(counter)

        server.on_tick = counted  # type: ignore[method-assign]
        await asyncio.sleep(0.5)  # long enough for five of uvicorn's ticks; no claim on speed either way
        assert 0 == ticks
    assert server.should_exit
    assert all(task.get_name() != "metrics-endpoint" for task in asyncio.all_tasks())
