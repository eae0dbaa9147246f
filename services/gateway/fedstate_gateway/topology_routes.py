"""Read-only views for humans and ``fedstate describe``: clusters, a Placement, the data plane, events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from fedstate.api import (
    MULTICLOUD_MONGODB,
    ClusterList,
    ClusterView,
    DataPlaneList,
    DataPlaneView,
    EventList,
    KubeStatus,
)
from fedstate.api.resources import DEFAULT_NAMESPACE
from fedstate.bus import events
from fedstate.bus.names import BUS_EVENTS, parse_dataplane_key
from fedstate.models.placement import Placement
from fedstate.tokens import Role

from .context import GatewayContext, get_context
from .errors import not_found, status_error
from .filters import object_filter
from .views import dataplane_summary
from .watch import Options, watch_response

Context = Annotated[GatewayContext, Depends(get_context)]
router = APIRouter(responses={code: {"model": KubeStatus} for code in (401, 403, 404, 503)})
_ITEM = MULTICLOUD_MONGODB.item_path("{namespace}", "{name}")


@router.get("/clusters", tags=["clusters"], operation_id="listClusters", response_model=ClusterList)
async def list_clusters(
    request: Request,
    context: Context,
    options: Options,
    watch: Annotated[bool, Query(description="stream changes: each cluster, then each change of one")] = False,
) -> ClusterList | Response:
    """Every member cluster that reports to fs-clusters, with health judged by heartbeat age; with ``watch``,
    each as a ``MemberCluster`` whose status is that view, then each change (a heartbeat, a health judged anew)."""
    if watch:
        return await watch_response(request, context, object_filter([], clusters=True), options)
    clusters = await context.caches.clusters.current()
    views = [context.gateway.judge(snapshot) for snapshot in clusters]
    return ClusterList(items=sorted(views, key=lambda v: v.name))


@router.get("/clusters/{name}", tags=["clusters"], operation_id="readCluster")
async def read_cluster(name: str, context: Context) -> ClusterView:
    snapshot = (await context.caches.clusters.current()).get(name)
    if snapshot is None:
        raise status_error(404, f"cluster {name!r} not found", name=name)
    return context.gateway.judge(snapshot)


@router.get(f"{_ITEM}/placement", tags=["MultiCloudMongoDB"], operation_id="readMultiCloudMongoDBPlacement")
async def read_placement(namespace: str, name: str, context: Context) -> Placement:
    """The scheduler's decision for the instance, with its explanation and per-cluster verdicts."""
    key = context.key(MULTICLOUD_MONGODB, namespace, name)
    entry = (await context.caches.placements.current()).get(key.placement_key)
    if entry is None:
        raise not_found(MULTICLOUD_MONGODB, name, "placement")
    return entry.value


@router.get(f"{_ITEM}/dataplane", tags=["MultiCloudMongoDB"], operation_id="readMultiCloudMongoDBDataPlane")
async def read_dataplane(namespace: str, name: str, context: Context) -> DataPlaneList:
    """Per member cluster: the DataPlaneSpec (no credentials) and the agent's DataPlaneStatus."""
    instance = context.key(MULTICLOUD_MONGODB, namespace, name).spec_key
    specs, reports = await context.caches.dataplane.current(), await context.caches.observed.current()
    views: dict[str, DataPlaneView] = {}
    for spec in specs.indexed(instance):
        cluster = parse_dataplane_key(spec.key)[0]
        views[cluster] = DataPlaneView(cluster=cluster, spec=dataplane_summary(spec.value))
    for observed in reports.indexed(instance):
        cluster = parse_dataplane_key(observed.key)[0]
        views.setdefault(cluster, DataPlaneView(cluster=cluster)).status = observed.value
    return DataPlaneList(items=[views[c] for c in sorted(views)])


def _in_scope(event: events.Event, tenant: str, namespace: str | None, bus: bool) -> bool:
    """``Event.instance`` reads ``tenant/namespace/name``: the caller's tenant only, and one namespace or all; with
    ``bus`` (an admin asking for every namespace), the bus's own events too (dead letters: ``_bus/<reader>/...``)."""
    event_tenant, event_namespace, *_ = (*event.instance.split("/"), "")
    if event_tenant == BUS_EVENTS:
        return bus and namespace is None
    return event_tenant == tenant and namespace in (None, event_namespace)


# Events of every tenant share the stream: the newest this many are read, and the caller's tenant's kept.
EVENTS_SCANNED = 10_000


@router.get("/events", tags=["events"], operation_id="listEvents")
async def list_events(
    context: Context,
    namespace: Annotated[str | None, Query()] = None,
    name: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> EventList:
    """Recent events of the caller's tenant, oldest first: of one instance (``name``), one namespace, or all."""
    bus = context.gateway.connected_bus
    if name is not None:
        key = context.key(MULTICLOUD_MONGODB, namespace or DEFAULT_NAMESPACE, name)
        return EventList(items=await events.recent(bus.js, key, limit, bus.dead_letters))
    found = await events.recent(bus.js, None, EVENTS_SCANNED, bus.dead_letters)
    admin = context.caller.role is Role.ADMIN
    return EventList(items=[e for e in found if _in_scope(e, context.tenant, namespace, admin)][-limit:])
