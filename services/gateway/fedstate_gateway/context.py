"""What every route needs: the bus connection, the caches read from it, the settings and the clock (injected,
so tests move time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import Request

from fedstate.api import Resource
from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey
from fedstate.models.base import utcnow

from .caches import Caches
from .settings import GatewaySettings
from .views import cluster_view


@dataclass
class GatewayContext:
    settings: GatewaySettings
    bus: Bus | None = None
    clock: Callable[[], datetime] = field(default=utcnow)
    caches: Caches = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.caches = Caches(
            lambda: self.connected_bus,
            settings.tenant,
            settings.watch_history,
            settings.watch_queue_limit,
            lambda snapshot: cluster_view(snapshot, self.clock(), self.failure_threshold),
        )

    @property
    def connected_bus(self) -> Bus:
        if self.bus is None:
            raise RuntimeError("the gateway has no bus connection yet")
        return self.bus

    @property
    def failure_threshold(self) -> timedelta:
        return timedelta(seconds=self.settings.failure_threshold_seconds)

    def key(self, resource: Resource, namespace: str, name: str) -> InstanceKey:
        return InstanceKey(self.settings.tenant, namespace, resource.bus_kind, name)


def get_context(request: Request) -> GatewayContext:
    context: GatewayContext = request.app.state.context
    return context
