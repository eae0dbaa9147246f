"""Prometheus metrics of the REST API: request counts and latency per route template, and ``/metrics``."""

from __future__ import annotations

import time

from fastapi import FastAPI
from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fedstate.service import metrics

REQUESTS = Counter("fedstate_gateway_requests_total", "REST requests served", ["method", "route", "code"])
REQUEST_SECONDS = Histogram(
    "fedstate_gateway_request_duration_seconds",
    "REST request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

WATCHES = Gauge("fedstate_gateway_watches", "REST watches open now (each a queue in memory, never a consumer)")


def route_template(scope: Scope) -> str:
    """The matched path template (``/clusters/{name}``), so labels stay few; ``unmatched`` otherwise."""
    return str(getattr(scope.get("route"), "path", "unmatched"))


class RequestMetrics:
    """ASGI middleware counting each request and timing it up to its response's start (a watch's headers, not its
    end). Plain ASGI rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs every request
    through a task group and memory streams, a fifth of the gateway's CPU for a PUT."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def noted(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The router put the matched route into this same scope on the way in.
                route, method = route_template(scope), scope["method"]
                REQUESTS.labels(method, route, str(message["status"])).inc()
                REQUEST_SECONDS.labels(method, route).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, noted)


def install_metrics(app: FastAPI) -> None:
    app.add_middleware(RequestMetrics)
    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
