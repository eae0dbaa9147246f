"""Parse a Kubernetes REST path into what it addresses: a discovery document or a resource target.

``/api/v1/namespaces/ns/pods/p/status`` → Target(pods, "ns", "p", "status");
``/apis/apps/v1/statefulsets`` → Target(statefulsets, None, None, None) (all namespaces).
"""

from __future__ import annotations

from dataclasses import dataclass

from fedstate_sim.kube import errors
from fedstate_sim.kube.resources import Registry, ResourceType

_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class Target:
    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


@dataclass(frozen=True)
class Discovery:
    document: str  # version | api | apis | group | resources | health
    group: str = ""
    version: str = ""


def parse(path: str, registry: Registry) -> Target | Discovery:
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] in ("healthz", "readyz", "livez"):
        return Discovery("health")
    if parts == ["version"]:
        return Discovery("version")
    if parts[0] == "api" and len(parts) <= 2:
        return Discovery("api") if len(parts) == 1 else Discovery("resources", "", parts[1])
    if parts[0] == "apis" and len(parts) <= 3:
        return Discovery(["apis", "group", "resources"][len(parts) - 1], *parts[1:])
    if parts[0] == "api":
        return _target(registry, "", parts[1], parts[2:], path)
    if parts[0] == "apis":
        return _target(registry, parts[1], parts[2], parts[3:], path)
    raise errors.unknown_resource(path)


def resource_named(path: str) -> str:
    """The resource a path names, served or not, as kube-apiserver's RequestInfo reads it before routing:
    requests for an uninstalled CRD count under its resource too. "" for discovery and health."""
    parts = [p for p in path.split("/") if p]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:] if parts[:1] == ["apis"] else []
    if rest[:1] == ["namespaces"] and len(rest) >= 3 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        rest = rest[2:]
    return rest[0] if rest else ""


def _target(registry: Registry, group: str, version: str, rest: list[str], path: str) -> Target:
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise errors.unknown_resource(path)
    rtype = registry.find(group, version, rest[0])
    if rtype is None:
        raise errors.unknown_resource(path)
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    _check(rtype, namespace, name, subresource, path)
    return Target(rtype, namespace, name, subresource)


def _check(rtype: ResourceType, namespace: str | None, name: str | None, subresource: str | None, path: str) -> None:
    if rtype.namespaced and name is not None and namespace is None:
        raise errors.unknown_resource(path)
    if not rtype.namespaced and namespace is not None:
        raise errors.unknown_resource(path)
    allowed: tuple[str, ...] = ("status",) if rtype.has_status else ()
    if rtype.resource == "namespaces":
        allowed = _NAMESPACE_SUBRESOURCES
    if rtype.resource == "pods":
        allowed = ("status", "exec")
    if rtype.resource == "serviceaccounts":
        allowed = ("token",)
    if subresource is not None and subresource not in allowed:
        raise errors.unknown_resource(path)
