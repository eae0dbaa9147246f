"""Prometheus metrics of the REST API: request counts and latency per route template, and ``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Gauge, Histogram

from fedstate.service import metrics

REQUESTS = Counter("fedstate_gateway_requests_total", "REST requests served", ["method", "route", "code"])
REQUEST_SECONDS = Histogram(
    "fedstate_gateway_request_duration_seconds",
    "REST request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

WATCHES = Gauge("fedstate_gateway_watches", "REST watches open now (each a queue in memory, never a consumer)")


def route_template(request: Request) -> str:
    """The matched path template (``/clusters/{name}``), so labels stay few; ``unmatched`` otherwise."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    route = route_template(request)
    REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    REQUEST_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)
    return response


def install_metrics(app: FastAPI) -> None:
    app.middleware("http")(_measure)
    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
