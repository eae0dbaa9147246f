"""A service's ``/metrics`` answers a scrape of exactly that path with the exposition, not a redirect."""

from __future__ import annotations

import httpx
from prometheus_client import CONTENT_TYPE_LATEST

from fedstate.service import health_app


async def test_metrics_is_served_at_its_own_path() -> None:
    """Prometheus asks for ``/metrics`` and does not follow a redirect to ``/metrics/``."""
    transport = httpx.ASGITransport(app=health_app(lambda: True))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get("/metrics", follow_redirects=False)
    assert (200, CONTENT_TYPE_LATEST) == (response.status_code, response.headers["content-type"])
    assert "# TYPE fedstate_reconcile_total counter" in response.text
