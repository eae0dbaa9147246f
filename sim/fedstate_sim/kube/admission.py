"""Generic create/update preparation (server-owned metadata, names, optimistic concurrency)
and the ``Admission`` hook interface kind-specific defaulting and validation plug into.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from fedstate_sim.kube import errors
from fedstate_sim.kube.meta import Clock, Obj, clone, meta, new_uid
from fedstate_sim.kube.resources import ResourceType, tracks_generation
from fedstate_sim.kube.validation import metadata_errors

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_LABEL_NAMED = {"namespaces", "services"}
_SERVER_OWNED = (
    "uid",
    "creationTimestamp",
    "namespace",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_STATUS_KEPT_ON_CREATE = {"nodes"}


class Admission:
    """Kind-specific defaulting/validation; override what you need. May raise ``ApiError``."""

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        """Default and validate a new object (mutate ``obj`` in place)."""

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        """Default and validate the next version of an object (mutate ``new`` in place)."""

    def on_update_status(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        """Validate a write through the status subresource (only the status changed)."""

    def finalizers_on_delete(self, rtype: ResourceType, obj: Obj) -> list[str]:
        """Finalizers the API server itself adds when asked to delete ``obj`` (kept until they are removed)."""
        return []

    def grace_on_delete(self, rtype: ResourceType, obj: Obj, requested: int | None) -> int:
        """Seconds the object stays, terminating, before it goes (0: at once); ``requested`` is the delete's
        ``gracePeriodSeconds``."""
        return 0

    def on_delete(self, rtype: ResourceType, obj: Obj) -> None:
        """Release whatever the object held (node ports, resource types...)."""


def validate_name(rtype: ResourceType, name: str) -> None:
    if rtype.group == "rbac.authorization.k8s.io":  # path segment names: ``system:discovery``
        if name in ("", ".", "..") or "/" in name or "%" in name:
            raise errors.invalid(rtype.kind, name, "metadata.name", name, "may not contain '/' or '%'")
        return
    pattern = _LABEL if rtype.resource in _LABEL_NAMED else _SUBDOMAIN
    limit = 63 if rtype.resource in _LABEL_NAMED else 253
    if not name or len(name) > limit or not pattern.fullmatch(name):
        why = "a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.'"
        raise errors.invalid(rtype.kind, name, "metadata.name", name, why)


def validate_metadata(rtype: ResourceType, obj: Obj) -> None:
    """Labels and annotations of any object, as ``ValidateObjectMeta`` checks them on create and update."""
    errs = metadata_errors(obj.get("metadata"))
    if errs:
        raise errors.invalid_object(rtype.kind, meta(obj).get("name", ""), errs, rtype.group)


def _choose_name(rtype: ResourceType, metadata: Obj, exists: Callable[[str], bool]) -> str:
    name = metadata.get("name")
    if name:
        return str(name)
    prefix = metadata.get("generateName")
    if not prefix:
        raise errors.invalid(rtype.kind, "", "metadata.name", "", "name or generateName is required")
    while True:
        candidate = prefix + "".join(random.choices(_GENERATE_ALPHABET, k=5))
        if not exists(candidate):
            return candidate


def prepare_create(
    rtype: ResourceType, body: Obj, namespace: str, clock: Clock, exists: Callable[[str], bool], owned: bool = False
) -> Obj:
    """A new object from a client body: name chosen and checked, server-owned metadata stamped.

    ``owned``: ``body`` shares nothing with anyone (a decoded request, a freshly built object), so the
    store may keep it instead of a copy.
    """
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    obj = body if owned else clone(body)
    metadata = obj.setdefault("metadata", {})
    requested_ns = metadata.get("namespace")
    if rtype.namespaced and requested_ns and requested_ns != namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    name = _choose_name(rtype, metadata, exists)
    validate_name(rtype, name)
    validate_metadata(rtype, obj)
    if exists(name):
        raise errors.already_exists(rtype.resource, name)
    obj["apiVersion"] = obj.get("apiVersion") or rtype.api_version
    obj["kind"] = rtype.kind
    metadata.update(name=name, uid=new_uid(), creationTimestamp=clock.timestamp())
    if tracks_generation(rtype):
        metadata["generation"] = 1
    for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        metadata.pop(field, None)
    if rtype.namespaced:
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    if rtype.has_status and rtype.resource not in _STATUS_KEPT_ON_CREATE:
        obj.pop("status", None)
    return obj


def prepare_update(rtype: ResourceType, current: Obj, body: Obj, subresource: str | None, owned: bool = False) -> Obj:
    """The next version: a stale resourceVersion is a 409; server-owned fields cannot be changed.

    ``owned``: ``body`` is a private copy the store may keep (controllers' ``mutate``).
    """
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    metadata, current_meta = meta(body), current["metadata"]
    requested_rv = metadata.get("resourceVersion")
    if requested_rv and str(requested_rv) != current_meta["resourceVersion"]:
        raise errors.conflict(rtype.resource, current_meta["name"])
    if subresource == "status":
        new = {**current, "metadata": dict(current_meta)}
        status = body.get("status") or {}
        new["status"] = status if owned else clone(status)
        _copy_key(metadata, new["metadata"], "managedFields")  # who wrote the status
        return new
    new = body if owned else clone(body)
    new["apiVersion"], new["kind"] = current["apiVersion"], current["kind"]
    new_meta = new.setdefault("metadata", {})
    new_meta["name"] = current_meta["name"]
    validate_metadata(rtype, new)
    for field in _SERVER_OWNED:
        if field in current_meta:
            new_meta[field] = current_meta[field]
        else:
            new_meta.pop(field, None)
    if rtype.has_status:
        _copy_key(current, new, "status")
    return new


def _copy_key(source: Obj, target: Obj, key: str) -> None:
    if key in source:
        target[key] = clone({key: source[key]})[key]
    else:
        target.pop(key, None)


def _content(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def finish_update(rtype: ResourceType, current: Obj, new: Obj) -> bool:
    """Bump generation (kinds that keep one) on a spec change; False when nothing changed (no new resourceVersion)."""
    new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    if tracks_generation(rtype) and _content(new) != _content(current):
        new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
    return new != current
