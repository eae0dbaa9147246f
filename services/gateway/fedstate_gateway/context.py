"""What every route needs: the bus connection, the caches of the caller's tenant, the settings and the clock
(injected, so tests move time).

``Gateway`` is the application's, for its lifetime; ``GatewayContext`` is one request's: the caller's token
(``auth.py``) and the tenant it acts on, whose caches alone it reads. A tenant's caches follow only that tenant's
keys, so nothing of another tenant can reach its lists and watches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import Request

from fedstate.api import ClusterView, Resource
from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey
from fedstate.models.base import utcnow
from fedstate.models.cluster import ClusterSnapshot
from fedstate.tokens import TokenRecord, TokenStore

from .auth import authenticate, authorize
from .caches import Caches
from .errors import ApiError
from .settings import GatewaySettings
from .views import cluster_view

# Who did what: a line per write (writes.py) and per refused request, on one logger (docs/security.md).
audit_log = logging.getLogger("fedstate.gateway.audit")


@dataclass
class Gateway:
    settings: GatewaySettings
    bus: Bus | None = None
    clock: Callable[[], datetime] = field(default=utcnow)
    tokens: TokenStore = field(init=False)
    _caches: dict[str, Caches] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tokens = TokenStore(self.settings.tokens_file)

    @property
    def connected_bus(self) -> Bus:
        if self.bus is None:
            raise RuntimeError("the gateway has no bus connection yet")
        return self.bus

    @property
    def failure_threshold(self) -> timedelta:
        return timedelta(seconds=self.settings.failure_threshold_seconds)

    def judge(self, snapshot: ClusterSnapshot) -> ClusterView:
        """A member cluster as seen now: its health judged by its heartbeat's age."""
        return cluster_view(snapshot, self.clock(), self.failure_threshold)

    def caches(self, tenant: str) -> Caches:
        """The caches of one tenant, made on its first request (none started until a read needs one)."""
        if tenant not in self._caches:
            settings = self.settings
            self._caches[tenant] = Caches(
                lambda: self.connected_bus,
                tenant,
                settings.watch_history,
                settings.watch_queue_limit,
                self.judge,
            )
        return self._caches[tenant]

    def end_watches(self) -> None:
        for caches in self._caches.values():
            caches.feed.end_watches()

    async def stop(self) -> None:
        await asyncio.gather(*(caches.stop() for caches in self._caches.values()))


@dataclass(frozen=True)
class GatewayContext:
    """One request's: the gateway, the caller's token and the tenant it acts on."""

    gateway: Gateway
    caller: TokenRecord
    tenant: str

    @property
    def caches(self) -> Caches:
        return self.gateway.caches(self.tenant)

    def key(self, resource: Resource, namespace: str, name: str) -> InstanceKey:
        return InstanceKey(self.tenant, namespace, resource.bus_kind, name)


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def get_context(request: Request) -> GatewayContext:
    """The request's context, once its token is known and allowed what the request asks (else a 401 or 403,
    each logged with what was asked and from where: never the token). Async, so FastAPI runs it on the event
    loop: a sync dependency is handed to a worker thread and back, two thread switches for a dictionary lookup."""
    gateway = get_gateway(request)
    caller: TokenRecord | None = None
    try:
        caller = authenticate(request, gateway.tokens)
        return GatewayContext(gateway, caller, authorize(request, caller))
    except ApiError as refusal:
        audit_log.warning(
            "refused",
            extra={
                "code": refusal.status.code,
                "token_id": caller.id if caller else None,
                "token_name": caller.name if caller else None,
                "method": request.method,
                "path": request.url.path,
                "client": request.client.host if request.client else None,
            },
        )
        raise
