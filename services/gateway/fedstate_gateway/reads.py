"""Reading user objects back from fs-spec and fs-status, in the shape Kubernetes shows them.

``MongoDB`` objects come from two places: those applied through the bus (fs-spec + fs-status), and
custom resources created on a member cluster's own API, which that cluster's agent mirrors to
fs-local-objects. Both are listed; a name read on its own is looked up in fs-spec first.
Everything is read from the gateway's caches (``caches.py``), current as of the request.
"""

from __future__ import annotations

from fedstate.api import MONGODB, KubeList, KubeObject, Resource
from fedstate.api.resources import SOURCE_ANNOTATION, SOURCE_CUSTOM_RESOURCE
from fedstate.api.selectors import Selector, SelectorError, parse_selector
from fedstate.bus.cache import KVCache
from fedstate.bus.names import local_objects_filter, spec_filter
from fedstate.bus.objects import LocalObject, StatusRecord, StoredObject
from fedstate.bus.store import Entry

from .context import GatewayContext
from .errors import not_found, status_error
from .views import object_view


def _view(resource: Resource, entry: Entry[StoredObject], statuses: KVCache[StatusRecord]) -> KubeObject:
    status = statuses.get(entry.value.key.status_key)
    return object_view(resource, entry.value, status.value if status else None, entry.revision)


async def status_of(context: GatewayContext, stored: StoredObject) -> StatusRecord | None:
    entry = (await context.caches.status.current()).get(stored.key.status_key)
    return entry.value if entry else None


def local_view(local: LocalObject) -> KubeObject:
    """A mirrored custom resource, annotated with its cluster and its source."""
    view = object_view(MONGODB, local.object, local.status)
    annotations = view.metadata.setdefault("annotations", {})
    annotations[SOURCE_ANNOTATION] = SOURCE_CUSTOM_RESOURCE
    return view


async def local_objects(context: GatewayContext, namespace: str | None, name: str | None = None) -> list[LocalObject]:
    """The mirrored ``MongoDB`` custom resources of every member cluster, by namespace, name and cluster."""
    pattern = local_objects_filter(context.settings.tenant, namespace, name)
    found = [entry.value for entry in (await context.caches.local.current()).matching(pattern)]
    return sorted(found, key=lambda o: (o.object.metadata.namespace, o.object.metadata.name, o.object.target_cluster))


async def stored_object(
    context: GatewayContext, resource: Resource, namespace: str, name: str
) -> Entry[StoredObject] | None:
    return (await context.caches.spec.current()).get(context.key(resource, namespace, name).spec_key)


async def read_object(
    context: GatewayContext, resource: Resource, namespace: str, name: str, cluster: str | None = None
) -> KubeObject:
    """The object with its status; a Kubernetes 404 when neither fs-spec nor (for MongoDB) a cluster has it."""
    entry = await stored_object(context, resource, namespace, name)
    if entry is not None:
        return _view(resource, entry, await context.caches.status.current())
    if resource is MONGODB:
        mirrors = [
            m for m in await local_objects(context, namespace, name) if cluster in (None, m.object.target_cluster)
        ]
        if len(mirrors) == 1:
            return local_view(mirrors[0])
        if mirrors:
            clusters = ", ".join(str(m.object.target_cluster) for m in mirrors)
            message = (
                f'{resource.qualified_plural} "{name}" is a custom resource in several clusters ({clusters}): name one'
            )
            raise status_error(409, message + " with ?cluster=", reason="Conflict", resource=resource, name=name)
    raise not_found(resource, name)


async def exists(context: GatewayContext, resource: Resource, namespace: str, name: str) -> bool:
    return await stored_object(context, resource, namespace, name) is not None


def selector_of(text: str | None) -> Selector:
    """``?labelSelector=``, or a Kubernetes 400 naming the requirement that does not parse."""
    try:
        return parse_selector(text)
    except SelectorError as exc:
        raise status_error(400, str(exc)) from None


async def list_objects(
    context: GatewayContext, resource: Resource, namespace: str | None, selector: Selector | None = None
) -> KubeList:
    """Every object of one kind in one namespace (or all) whose labels match, sorted by namespace and name."""
    selector = selector or Selector()
    pattern = spec_filter(context.settings.tenant, resource.bus_kind, namespace)
    specs, statuses = await context.caches.spec.current(), await context.caches.status.current()
    entries = [e for e in specs.matching(pattern) if selector.matches(e.value.metadata.labels)]
    items = [_view(resource, entry, statuses) for entry in entries]
    if resource is MONGODB:
        local = await local_objects(context, namespace)
        items += [local_view(m) for m in local if selector.matches(m.object.metadata.labels)]
    items.sort(key=lambda i: (i.namespace, i.name))
    return KubeList(api_version=resource.api_version, kind=resource.list_kind, metadata={}, items=items)
