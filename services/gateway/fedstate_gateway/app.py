"""The gateway's FastAPI application: one NATS connection for its lifetime, routes, errors and metrics.

``create_app(settings)`` connects in its lifespan, and stops the caches reads are served from
(``caches.py``) when it ends; tests pass an open ``bus`` instead, and run the lifespan themselves
(``httpx.ASGITransport`` does not).
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from fedstate.api import Health, VersionInfo
from fedstate.bus.connection import Bus, connect
from fedstate.bus.identities import Component, Identity
from fedstate.heap import HeapKeeper
from fedstate.heap import keep as keep_heap
from fedstate.models.base import utcnow

from .context import Gateway
from .dashboard_routes import ASSETS_PATH, dashboard_assets
from .dashboard_routes import router as dashboard_router
from .discovery_routes import router as discovery_router
from .errors import install_error_handlers
from .limits import BodyLimit
from .login_routes import router as login_router
from .metrics import install_metrics
from .object_routes import object_routers
from .settings import GatewaySettings
from .topology_routes import router as topology_router
from .watch import router as watch_router

SERVICE_NAME = "fedstate-gateway"


def _lifespan(
    context: Gateway, owns_bus: bool, heap: HeapKeeper | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        keeper = asyncio.create_task(keep_heap(heap), name="heap-keeper") if heap is not None else None
        if owns_bus:
            settings = context.settings
            identity = Identity(Component.GATEWAY, tenant=settings.tenant)
            context.bus = await connect(
                settings.nats_servers, name=SERVICE_NAME, identity=identity, access=settings.bus_access()
            )
        try:
            yield
        finally:
            if keeper is not None:
                keeper.cancel()
            await context.stop()
            if owns_bus and context.bus is not None:
                await context.bus.close()

    return lifespan


def create_app(
    settings: GatewaySettings | None = None,
    *,
    bus: Bus | None = None,
    clock: Callable[[], datetime] = utcnow,
    heap: HeapKeeper | None = None,
) -> FastAPI:
    """The app; with ``bus`` it uses that connection (and leaves closing it to the caller); with ``heap``, the
    process's (``python -m fedstate_gateway``), it settles the heap while it runs (``fedstate.heap``)."""
    context = Gateway(settings or GatewaySettings(), bus, clock)
    app = FastAPI(
        title="fedstate gateway",
        version=version("fedstate"),
        description="Kubernetes-style REST API of the fedstate federation control plane.",
        lifespan=_lifespan(context, owns_bus=bus is None, heap=heap),
    )
    app.state.gateway = context

    @app.get("/healthz", tags=["health"], operation_id="healthz", responses={503: {"model": Health}})
    async def healthz() -> JSONResponse:
        connected = context.bus is not None and context.bus.nc.is_connected
        return JSONResponse(Health(ok=connected, nats=connected).to_wire(), status_code=200 if connected else 503)

    @app.get("/version", tags=["health"], operation_id="getVersion")
    async def server_version() -> VersionInfo:
        """The fedstate release this gateway runs (``fedstate version`` shows it as the server version)."""
        return VersionInfo.of_release(version("fedstate"), platform.python_version(), platform.platform())

    for router in (*object_routers(), topology_router, watch_router, discovery_router, dashboard_router, login_router):
        app.include_router(router)
    app.mount(ASSETS_PATH, dashboard_assets(), name="dashboard")
    install_error_handlers(app)
    install_metrics(app)
    app.add_middleware(BodyLimit)
    return app
