"""The frame every service runs in: logging, tracing, /metrics and /healthz, signals, clean drain."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

# The models' quantity parser (``fedstate.models.base.parse_quantity``) is the kubernetes client's, which imports
# the whole client on first use (the CLI stays quick that way). A service imports it as it starts instead: on its
# first request, it was a quarter of a second of the first create after the control plane started.
import kubernetes.utils.quantity  # noqa: F401
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fedstate import scrape, telemetry
from fedstate.bus.connection import Bus, connect
from fedstate.bus.identities import Component, Identity
from fedstate.bus.store import KeyChange
from fedstate.eventloop import ServiceLoop
from fedstate.heap import HeapKeeper
from fedstate.heap import keep as keep_heap
from fedstate.models.base import build_loaded_models
from fedstate.reconcile import Controller
from fedstate.settings import MemberClusterSettings, ServiceSettings

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 10.0  # after a signal, how long the body may take to stop before the connection closes

Body = Callable[[Bus, AsyncExitStack], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Running:
    """One body of a process: its connection's name, the bus user it connects as, and what it runs."""

    name: str
    identity: Identity
    body: Body


async def metrics(_: Request) -> Response:
    """The Prometheus exposition, at ``/metrics`` itself (a mounted app would redirect a scrape to ``/metrics/``)."""
    return Response(scrape.exposition(), media_type=CONTENT_TYPE_LATEST)


def health_app(is_healthy: Callable[[], bool]) -> Starlette:
    async def healthz(_: Request) -> JSONResponse:
        ok = is_healthy()
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503)

    return Starlette(routes=[Route("/healthz", healthz), Route("/metrics", metrics)])


class EndpointServer(uvicorn.Server):
    """uvicorn for /metrics and /healthz, which waits for its stop instead of waking ten times a second.

    uvicorn's own main loop sleeps 0.1 s at a time to refresh its Date header and look at ``should_exit``: in an
    idle process of ten member clusters that cost half as much as all ten clusters' lease renewals. These
    answers carry no Date header (a scrape does not need one), and ``stop`` ends the server at once."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopping = asyncio.Event()

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default headers once
        await self._stopping.wait()

    def stop(self) -> None:
        self.should_exit = True
        self._stopping.set()


async def serve_endpoints(
    settings: ServiceSettings, is_healthy: Callable[[], bool], stack: AsyncExitStack
) -> uvicorn.Server:
    """Serve /metrics and /healthz until ``stack`` closes."""
    config = uvicorn.Config(
        health_app(is_healthy),
        host=settings.metrics_host,
        port=settings.metrics_port,
        log_level="warning",
        lifespan="off",
        date_header=False,
    )
    server = EndpointServer(config)
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]  # the service owns signals
    task = asyncio.create_task(server.serve(), name="metrics-endpoint")

    async def stop() -> None:
        server.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=5)

    stack.push_async_callback(stop)
    return server


async def pump(
    changes: AsyncIterator[KeyChange], controller: Controller, to_key: Callable[[KeyChange], str | None]
) -> None:
    """Feed a KV watch into a controller: every change enqueues the key it maps to."""
    async for change in changes:
        try:
            key = to_key(change)
        except (ValueError, KeyError):
            log.warning("ignoring a key of unexpected shape", extra={"key": change.key})
            continue
        if key is not None:
            controller.enqueue(key, change.headers)


def run(name: str, settings: ServiceSettings, body: Body, heap: HeapKeeper | None = None) -> None:
    """Run ``body`` until SIGINT/SIGTERM, then drain the bus connection; exit 1 if the body failed.

    ``name`` is a control-plane component's (``scheduler``, ``federation``): the bus user it connects as.
    ``heap``: the process's keeper of its heap, when the body settles it at moments of its own too."""
    _run(name, settings, [Running(name, Identity(Component(name), tenant=settings.tenant), body)], heap)


M = TypeVar("M", bound=MemberClusterSettings)


def run_member_clusters(service: str, settings: M, body_of: Callable[[M], Body]) -> None:
    """``run`` a member-cluster service: one body per cluster the settings name (``hosted_clusters``), each
    with its own bus connection named ``<service>-<cluster>``, as that cluster's bus user, in one process."""
    bodies = [
        Running(f"{service}-{each.cluster}", Identity(Component(service), each.cluster, each.tenant), body_of(each))
        for each in settings.each_cluster()
    ]
    _run(bodies[0].name, settings, bodies)


def _run(name: str, settings: ServiceSettings, bodies: list[Running], heap: HeapKeeper | None = None) -> None:
    telemetry.setup_logging(name, settings.log_level)
    telemetry.setup_tracing(name, settings.spans_file)
    heap = heap or HeapKeeper()
    settle_start_up(heap)
    clean = serve(_main(settings, bodies, heap))
    exit_without_collecting()
    if not clean:
        sys.exit(1)


def serve(main: Coroutine[Any, Any, bool]) -> bool:
    """Run the service's main coroutine on its own event loop (``fedstate.eventloop``)."""
    with asyncio.Runner(loop_factory=ServiceLoop) as runner:
        return runner.run(main)


async def _all(bodies: list[Coroutine[Any, Any, None]]) -> None:
    await asyncio.gather(*bodies)


def settle_start_up(heap: HeapKeeper) -> None:
    """Build the models loaded at start-up, then freeze everything start-up made (``fedstate.heap``): what a
    service imports lives as long as the process, and the collector's full passes need not walk it again."""
    build_loaded_models()
    heap.settle(force=True)


def exit_without_collecting() -> None:
    """Spare a stopping process the garbage collector's last walk over its whole heap.

    With the Kubernetes client loaded that walk took seconds on a busy machine, after the service had
    already drained, and made ``fedstate down`` wait for (or SIGKILL) processes with nothing left to
    do. The memory goes back with the process anyway; atexit handlers (span export) still run.
    """
    gc.freeze()


async def _main(settings: ServiceSettings, bodies: list[Running], heap: HeapKeeper) -> bool:
    """True for a clean stop on a signal, False when a body itself failed (which stops them all)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        buses = []
        for each in bodies:
            bus = await connect(
                settings.nats_servers, name=each.name, identity=each.identity, access=settings.bus_access()
            )
            stack.push_async_callback(bus.close)
            buses.append(bus)
        await serve_endpoints(settings, lambda: all(bus.nc.is_connected for bus in buses), stack)
        running = [each.body(bus, stack) for bus, each in zip(buses, bodies, strict=True)]
        work = asyncio.create_task(_all(running), name=f"{bodies[0].name}-main")
        keeper = asyncio.create_task(keep_heap(heap), name="heap-keeper")
        stack.callback(keeper.cancel)
        log.info("started", extra={"nats": settings.nats_servers, "bodies": len(bodies)})
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
        failed = work in done and work.exception() is not None
        if failed:
            log.error("service body failed", exc_info=work.exception())
        work.cancel()
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(work), STOP_TIMEOUT_SECONDS)
        if not work.done():  # never hang a shutdown on a task that does not stop
            log.warning("the service body did not stop in time; closing the connection anyway")
    log.info("stopped")
    return not failed
