"""The REST verbs of the simulated kube-apiserver over aiohttp: get, list, create, update, patch,
delete, deletecollection, watch (in ``http_watch``), discovery, and ``pods/exec`` (in ``podexec``).
Errors become ``Status`` objects.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from fedstate.mergepatch import merge_patch
from fedstate_sim.config import SIMULATOR_BANNER
from fedstate_sim.kube import discovery, errors, managedfields, requests
from fedstate_sim.kube.http_watch import stream_watch
from fedstate_sim.kube.label_syntax import parse_label_selector
from fedstate_sim.kube.meta import Obj, clone, dumps, meta
from fedstate_sim.kube.patch import json_patch, strategic_merge_patch
from fedstate_sim.kube.paths import Discovery, Target, parse, resource_named
from fedstate_sim.kube.resources import RETURNS_DELETED_OBJECT
from fedstate_sim.kube.selectors import parse_field_selector
from fedstate_sim.kube.store import ObjectStore
from fedstate_sim.kube.tokens import Guard

log = logging.getLogger(__name__)
SubresourceHandler = Callable[[web.Request, Target], Awaitable[web.StreamResponse]]
APPLY = "application/apply-patch+yaml"
PATCHERS: dict[str, Callable[[Any, Any], Any]] = {
    "application/merge-patch+json": merge_patch,
    "application/strategic-merge-patch+json": strategic_merge_patch,
    "application/json-patch+json": json_patch,
}


def _verb(request: web.Request, target: Target) -> str:
    """kube-apiserver's verb label: LIST and WATCH for collections, APPLY for server-side apply."""
    method = request.method
    if method == "GET" and target.name is None:
        return "WATCH" if requests.flag(request.query, "watch") else "LIST"
    if method == "PATCH" and request.content_type == APPLY:
        return "APPLY"
    return method


def respond(obj: Obj, status: int = 200) -> web.Response:
    return web.Response(body=dumps(obj), status=status, content_type="application/json")


class KubeApi:
    """One simulated cluster's API surface; ``handle`` is the aiohttp catch-all handler."""

    def __init__(
        self,
        store: ObjectStore,
        server_address: Callable[[], str],
        pod_exec: SubresourceHandler | None = None,
        guard: Guard | None = None,
    ) -> None:
        self.store = store
        self._server_address = server_address
        self._pod_exec = pod_exec
        self._guard = guard  # authentication and RBAC; None: every request is allowed
        # kube-apiserver's own request counter, on this cluster's /metrics: how hard clients work it.
        self.metrics = CollectorRegistry()
        self._requests = Counter(
            "apiserver_request",
            "Requests answered, by verb, resource and HTTP code (as kube-apiserver counts them).",
            ["verb", "resource", "code"],
            registry=self.metrics,
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/metrics":
            return web.Response(body=generate_latest(self.metrics), headers={"Content-Type": CONTENT_TYPE_LATEST})
        verb, resource = request.method, ""
        code = 499  # unless answered: the client went away first (a watch it closed)
        try:
            if self._guard is not None:
                self._guard.admit(request)  # before the path is resolved, as kube-apiserver's filters do
            target = parse(request.path, self.store.registry)
            if isinstance(target, Discovery):
                return self._discovery(target)
            verb, resource = _verb(request, target), target.rtype.resource
            response = await self._dispatch(request, target)
            code = response.status
            return response
        except errors.ApiError as exc:
            code = exc.code
            resource = resource or resource_named(request.path)
            return respond(exc.status(), exc.code)
        except Exception as exc:
            code = 500
            log.exception("fedstate simulator: %s %s failed", request.method, request.path)
            return respond(errors.ApiError(500, "InternalError", f"internal error: {exc}").status(), 500)
        finally:
            if resource:
                self._requests.labels(verb, resource, str(code)).inc()

    def _discovery(self, target: Discovery) -> web.Response:
        registry = self.store.registry
        documents: dict[str, Callable[[], Obj | None]] = {
            "health": lambda: None,
            "version": discovery.version_info,
            "api": lambda: discovery.core_versions(self._server_address()),
            "apis": lambda: discovery.group_list(registry),
            "group": lambda: discovery.group(registry, target.group),
            "resources": lambda: discovery.resource_list(registry, target.group, target.version),
        }
        if target.document == "health":
            return web.Response(text=f"ok ({SIMULATOR_BANNER})")
        document = documents[target.document]()
        if document is None:
            raise errors.unknown_resource(f"/apis/{target.group}/{target.version}".rstrip("/"))
        return respond(document)

    async def _dispatch(self, request: web.Request, target: Target) -> web.StreamResponse:
        method, named = request.method, target.name is not None
        if target.subresource == "exec" and self._pod_exec is not None:
            return await self._pod_exec(request, target)
        if target.subresource == "token" and self._guard is not None:
            return await self._guard.tokens.token_request(request, target)
        if method == "GET" and named:
            return respond(self.store.require(target.rtype, target.namespace or "", target.name or ""))
        if method == "GET" and requests.flag(request.query, "watch"):
            return await stream_watch(request, self.store, target)
        if method == "GET":
            return self._list(request, target)
        if method == "POST" and not named:
            return await self._create(request, target)
        if method == "PUT" and named:
            return await self._update(request, target)
        if method == "PATCH" and named:
            return await self._patch(request, target)
        if method == "DELETE":
            return await (self._delete(request, target) if named else self._delete_collection(request, target))
        raise errors.method_not_allowed(method, target.rtype.resource)

    def _list(self, request: web.Request, target: Target) -> web.Response:
        """A list as of now, or as of the exact ``resourceVersion`` asked (a later one is 504, as in kube)."""
        version, match = requests.list_version(request.query)
        selectors = (
            parse_label_selector(request.query.get("labelSelector")),
            parse_field_selector(request.query.get("fieldSelector"), target.rtype.group, target.rtype.kind),
        )
        if match == requests.EXACT and version is not None:
            items, rv = self.store.list_at(target.rtype, version, target.namespace, *selectors), version
        else:
            if version and version > self.store.resource_version:
                raise errors.too_large(version, self.store.resource_version)
            items, rv = self.store.list(target.rtype, target.namespace, *selectors), self.store.resource_version
        offset = requests.decode_continue(request.query.get("continue"))
        limit = requests.optional_int(request.query, "limit") or 0
        page = items[offset : offset + limit] if limit else items[offset:]
        list_meta: Obj = {"resourceVersion": str(rv)}
        if limit and offset + limit < len(items):
            list_meta["continue"] = requests.encode_continue(offset + limit, rv)
            list_meta["remainingItemCount"] = len(items) - offset - limit
        rtype = target.rtype
        return respond(
            {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version, "metadata": list_meta, "items": page}
        )

    async def _create(self, request: web.Request, target: Target) -> web.Response:
        body = requests.decode_json(await request.read())
        if isinstance(body, dict):
            managedfields.record_create(body, self._writer(request, target))
        return respond(self.store.create(target.rtype, body, target.namespace, owned=True), 201)

    def _writer(self, request: web.Request, target: Target) -> managedfields.Writer:
        """Who writes: ``fieldManager``, else the User-Agent's product name, as kube-apiserver decides."""
        return managedfields.Writer(
            managedfields.manager_of(request.query.get("fieldManager"), request.headers.get("User-Agent")),
            target.rtype.api_version,
            self.store.clock.timestamp(),
            _subresource(target) or "",
            target.rtype.has_status,
        )

    async def _update(self, request: web.Request, target: Target) -> web.Response:
        body = requests.decode_json(await request.read())
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        self._check_identity(body, target)
        current = self.store.require(target.rtype, target.namespace or "", target.name or "")
        managedfields.record_update(current, body, self._writer(request, target))
        return respond(self.store.update(target.rtype, body, _subresource(target)))

    def _check_identity(self, body: Obj, target: Target) -> None:
        metadata = body.setdefault("metadata", {})
        if metadata.get("name") not in (None, target.name):
            raise errors.bad_request(
                f"the name of the object ({metadata.get('name')}) does not match the name on the URL ({target.name})"
            )
        metadata["name"] = target.name
        if target.rtype.namespaced:
            metadata["namespace"] = target.namespace

    async def _patch(self, request: web.Request, target: Target) -> web.Response:
        raw, content_type = await request.read(), request.content_type
        if content_type == APPLY:
            return self._apply(request, target, requests.decode_yaml(raw))
        patcher = PATCHERS.get(content_type)
        if patcher is None:
            raise errors.unsupported_media_type(content_type)
        current = self.store.require(target.rtype, target.namespace or "", target.name or "")
        patched = patcher(clone(current), requests.decode_json(raw))
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        self._check_identity(patched, target)
        managedfields.record_update(current, patched, self._writer(request, target))
        return respond(self.store.update(target.rtype, patched, _subresource(target)))

    def _apply(self, request: web.Request, target: Target, body: Any) -> web.Response:
        """Server-side apply (see ``managedfields``): create when absent, else merge with field ownership."""
        if not request.query.get("fieldManager"):
            raise errors.bad_request("PATCH with application/apply-patch+yaml requires the fieldManager parameter")
        if not isinstance(body, dict):
            raise errors.bad_request("an applied configuration must be an object")
        self._check_identity(body, target)
        writer = self._writer(request, target)
        current = self.store.get(target.rtype, target.namespace or "", target.name or "")
        if current is None:
            if target.subresource:
                raise errors.not_found(target.rtype.resource, target.name or "")
            if self._guard is not None:
                self._guard.require_create(request)
            managedfields.record_create(body, writer, managedfields.APPLY)
            return respond(self.store.create(target.rtype, body, target.namespace), 201)
        merged = managedfields.apply(current, body, writer, requests.flag(request.query, "force"))
        if not meta(body).get("resourceVersion"):
            merged["metadata"]["resourceVersion"] = meta(current)["resourceVersion"]
        return respond(self.store.update(target.rtype, merged, _subresource(target), owned=True))

    async def _delete(self, request: web.Request, target: Target) -> web.Response:
        options = requests.delete_options(request.query, requests.decode_json(await request.read()))
        current = self.store.require(target.rtype, target.namespace or "", target.name or "")
        _check_preconditions(current, options.get("preconditions") or {}, target)
        deleted = self.store.delete(
            target.rtype,
            target.namespace or "",
            target.name or "",
            options.get("propagationPolicy") or "Background",
            options.get("gracePeriodSeconds"),
        )
        return respond(self._deleted(target, deleted))

    def _deleted(self, target: Target, deleted: Obj) -> Obj:
        """The object while finalizers hold it, or for kinds that return it; otherwise a ``Status`` (as kube's
        generic registry answers: ``details.kind`` is the resource)."""
        held = self.store.get(target.rtype, target.namespace or "", target.name or "") is not None
        if held or target.rtype.resource in RETURNS_DELETED_OBJECT:
            return deleted
        details = {"name": target.name, "kind": target.rtype.plural, "uid": meta(deleted).get("uid")}
        if target.rtype.group:
            details["group"] = target.rtype.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    async def _delete_collection(self, request: web.Request, target: Target) -> web.Response:
        options = requests.delete_options(request.query, requests.decode_json(await request.read()))
        items = self.store.list(
            target.rtype,
            target.namespace,
            parse_label_selector(request.query.get("labelSelector")),
            parse_field_selector(request.query.get("fieldSelector"), target.rtype.group, target.rtype.kind),
        )
        policy = options.get("propagationPolicy") or "Background"
        grace = options.get("gracePeriodSeconds")
        deleted = [
            self.store.delete(target.rtype, meta(o).get("namespace") or "", meta(o)["name"], policy, grace)
            for o in items
        ]
        rtype = target.rtype
        return respond(
            {
                "kind": f"{rtype.kind}List",
                "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": deleted,
            }
        )


def _subresource(target: Target) -> str | None:
    return "status" if target.subresource == "status" else None


def _check_preconditions(current: Obj, preconditions: Obj, target: Target) -> None:
    for field in ("uid", "resourceVersion"):
        wanted = preconditions.get(field)
        if wanted and str(wanted) != str(meta(current).get(field)):
            raise errors.conflict(target.rtype.resource, target.name or "")
