"""Kubernetes-style CRUD routes, registered once per resource of ``fedstate.api.RESOURCES``.

``GET`` reads the buckets; ``POST``/``PUT``/``DELETE`` go through the intake (``writes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from fedstate.api import OUTCOME_HEADER, RESOURCES, KubeList, KubeObject, KubeStatus, Resource

from .bodies import JSON, JSON_PATCH, MERGE_PATCH, YAML_TYPES, object_body, patch_body, request_body
from .context import GatewayContext, get_context
from .filters import object_filter
from .reads import list_objects, read_object
from .watch import Options, WatchOptions, watch_response
from .writes import Target, apply, delete, patch, recover

Context = Annotated[GatewayContext, Depends(get_context)]
ObjectBody = Annotated[dict[str, Any], Depends(object_body)]
Cluster = Annotated[str | None, Query(description="member cluster of a single-cluster MongoDB")]
LabelSelector = Annotated[
    str | None, Query(alias="labelSelector", description="Kubernetes label selector: tier=db,env in (prod,qa)")
]
FieldSelector = Annotated[
    str | None,
    Query(alias="fieldSelector", description="metadata.name, metadata.namespace, status.state with =, == or !="),
]


@dataclass(frozen=True)
class ListQuery:
    watch: bool = False
    label_selector: str | None = None
    field_selector: str | None = None


def list_query(
    label_selector: LabelSelector = None,
    field_selector: FieldSelector = None,
    watch: Annotated[bool, Query(description="stream changes instead of listing (see GET /watch)")] = False,
) -> ListQuery:
    return ListQuery(watch, label_selector, field_selector)


Listing = Annotated[ListQuery, Depends(list_query)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": KubeStatus} for code in (400, 401, 403, 404, 405, 409, 413, 422, 503)
}


def _routes(resource: Resource) -> APIRouter:
    """List, create, get, replace and delete for one resource, with operation ids named after its kind."""
    router = APIRouter(tags=[resource.kind], responses=_ERRORS)
    add = partial(router.add_api_route, response_model_exclude_none=True)
    collection = resource.collection_path("{namespace}")
    item = resource.item_path("{namespace}", "{name}")

    async def list_or_watch(
        request: Request, context: Context, options: WatchOptions, namespace: str | None, query: ListQuery
    ) -> Response | KubeList:
        wanted = object_filter([resource], namespace, query.label_selector, query.field_selector)
        if query.watch:
            return await watch_response(request, context, wanted, options)
        return await list_objects(context, resource, wanted)

    async def list_all(request: Request, context: Context, options: Options, query: Listing) -> Response | KubeList:
        return await list_or_watch(request, context, options, None, query)

    async def list_namespaced(
        namespace: str, request: Request, context: Context, options: Options, query: Listing
    ) -> Response | KubeList:
        return await list_or_watch(request, context, options, namespace, query)

    async def create(namespace: str, body: ObjectBody, context: Context, cluster: Cluster = None) -> KubeObject:
        target = Target(resource, namespace, cluster=cluster)
        return (await apply(context, body, target, create_only=True)).object

    async def read(namespace: str, name: str, context: Context, cluster: Cluster = None) -> KubeObject:
        return await read_object(context, resource, namespace, name, cluster)

    async def replace(
        namespace: str, name: str, body: ObjectBody, response: Response, context: Context, cluster: Cluster = None
    ) -> KubeObject:
        applied = await apply(context, body, Target(resource, namespace, name, cluster), create_only=False)
        response.status_code = 201 if applied.created else 200
        response.headers[OUTCOME_HEADER] = applied.outcome
        return applied.object

    async def modify(
        namespace: str, name: str, request: Request, response: Response, context: Context, cluster: Cluster = None
    ) -> KubeObject:
        change = await patch_body(request, resource)
        applied = await patch(context, Target(resource, namespace, name, cluster), change)
        response.headers[OUTCOME_HEADER] = applied.outcome
        return applied.object

    async def remove(namespace: str, name: str, context: Context) -> KubeObject | KubeStatus:
        return await delete(context, Target(resource, namespace, name))

    async def force_recovery(
        namespace: str,
        name: str,
        context: Context,
        force: Annotated[bool, Query(description="required: a forced recovery loses unreplicated writes")] = False,
    ) -> KubeObject:
        return await recover(context, Target(resource, namespace, name), force=force)

    kind = resource.kind
    listing = partial(add, methods=["GET"], response_model=KubeList)
    listing(resource.all_namespaces_path(), list_all, operation_id=f"list{kind}ForAllNamespaces")
    listing(collection, list_namespaced, operation_id=f"listNamespaced{kind}")
    objects = request_body(JSON, YAML_TYPES[0])
    add(collection, create, methods=["POST"], status_code=201, operation_id=f"create{kind}", openapi_extra=objects)
    add(item, read, methods=["GET"], operation_id=f"read{kind}")
    add(item, replace, methods=["PUT"], operation_id=f"replace{kind}", openapi_extra=objects)
    patches = request_body(MERGE_PATCH, JSON_PATCH)
    add(item, modify, methods=["PATCH"], operation_id=f"patch{kind}", openapi_extra=patches)
    add(item, remove, methods=["DELETE"], operation_id=f"delete{kind}")
    if resource.recoverable:
        add(item + "/recover", force_recovery, methods=["POST"], operation_id=f"recover{kind}")
    return router


def object_routers() -> list[APIRouter]:
    return [_routes(resource) for resource in RESOURCES]
