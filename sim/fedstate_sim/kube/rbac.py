"""RBAC as kube-apiserver's authorizer evaluates it: request attributes from the URL alone, then the rules of
every Role and ClusterRole bound to the user, its groups or its ServiceAccount.

``request_attributes`` follows ``RequestInfoFactory`` (k8s.io/apiserver): verbs get/list/watch/create/
update/patch/delete/deletecollection, the namespace of ``/namespaces/<ns>/...`` (a Namespace's own name
for ``/namespaces/<ns>``), subresources, and the name a ``metadata.name=`` field selector pins a list to.
``RbacAuthorizer.allows`` follows ``rbac.RBACAuthorizer``: ClusterRoleBindings grant everywhere,
RoleBindings only in their namespace (Role or ClusterRole alike); a rule matches by verbs, apiGroups,
resources (``pods/exec``, ``*/status``, ``*``), resourceNames, or nonResourceURLs (``/api/*``). A binding
to a missing role adds ``RBAC: ... not found`` to the reason. Aggregated ClusterRoles are not assembled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.meta import Obj, meta
from fedstate_sim.kube.resources import ResourceType
from fedstate_sim.kube.selectors import parse_field_selector
from fedstate_sim.kube.store import ObjectStore

GROUP = "rbac.authorization.k8s.io"
ROLES = ResourceType(GROUP, "v1", "roles", "Role", True, singular="role")
CLUSTERROLES = ResourceType(GROUP, "v1", "clusterroles", "ClusterRole", False, singular="clusterrole")
ROLEBINDINGS = ResourceType(GROUP, "v1", "rolebindings", "RoleBinding", True, singular="rolebinding")
CLUSTERROLEBINDINGS = ResourceType(
    GROUP, "v1", "clusterrolebindings", "ClusterRoleBinding", False, singular="clusterrolebinding"
)
RBAC_TYPES = (ROLES, CLUSTERROLES, ROLEBINDINGS, CLUSTERROLEBINDINGS)
MASTERS = "system:masters"  # kube-apiserver's privileged group: allowed everything before RBAC is asked
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attributes:
    """What a request asks, as the authorizer sees it (``authorizer.AttributesRecord``)."""

    verb: str
    path: str
    resource_request: bool = False
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def request_attributes(method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """The attributes kube-apiserver derives from a request's method, path and query, before any lookup."""
    parts = [p for p in path.split("/") if p]
    plain = Attributes(verb=method.lower(), path=path)
    if len(parts) < 3 or parts[0] not in ("api", "apis") or (parts[0] == "apis" and len(parts) < 4):
        return plain
    group, rest = ("", parts[1:]) if parts[0] == "api" else (parts[1], parts[2:])
    version, rest = rest[0], rest[1:]
    verb = _METHOD_VERBS.get(method, "")
    if rest[0] == "watch" and len(rest) > 1:
        verb, rest = "watch", rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource, name, subresource = [*rest, "", "", ""][:3]
    if not name and verb == "get":
        verb = "watch" if query.get("watch", "").lower() not in ("", "false", "0") else "list"
        name = _pinned_name(query.get("fieldSelector"))
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(verb, path, True, group, version, namespace, resource, subresource, name)


def _pinned_name(selector: str | None) -> str:
    """``metadata.name=x`` in a list's field selector authorizes (and is refused) as a request for ``x``."""
    try:
        name = parse_field_selector(selector).value_for("metadata.name") or ""
    except errors.ApiError:
        return ""  # the handler answers the malformed selector
    return "" if name in (".", "..") or "/" in name or "%" in name else name


# ---- rule matching (k8s.io/component-helpers/auth/rbac/validation) ---------------------------------------
def _has(values: Iterable[str], wanted: str) -> bool:
    values = list(values or ())
    return "*" in values or wanted in values


def _resource_matches(rule: Obj, attrs: Attributes) -> bool:
    for ruled in rule.get("resources") or ():
        if ruled in ("*", attrs.combined_resource):
            return True
        if attrs.subresource and ruled == f"*/{attrs.subresource}":
            return True
    return False


def _url_matches(rule: Obj, path: str) -> bool:
    return any(
        url == "*" or url == path or (url.endswith("*") and path.startswith(url[:-1]))
        for url in rule.get("nonResourceURLs") or ()
    )


def rule_allows(rule: Obj, attrs: Attributes) -> bool:
    if not _has(rule.get("verbs") or (), attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule, attrs.path)
    names = rule.get("resourceNames") or ()
    return (
        _has(rule.get("apiGroups") or (), attrs.group)
        and _resource_matches(rule, attrs)
        and (not names or attrs.name in names)
    )


def _subject_is(subject: Obj, user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


@dataclass
class Decision:
    allowed: bool
    reason: str = ""
    missing: list[str] = field(default_factory=list)


class RbacAuthorizer:
    """Decides against the Roles, ClusterRoles and bindings stored in one simulated cluster."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def decide(self, user: UserInfo, attrs: Attributes) -> Decision:
        if MASTERS in user.groups:
            return Decision(True)
        decision = Decision(False)
        bindings = [(b, "") for b in self.store.list(CLUSTERROLEBINDINGS)]
        if attrs.namespace:
            bindings += [(b, attrs.namespace) for b in self.store.list(ROLEBINDINGS, attrs.namespace)]
        for binding, namespace in bindings:
            if not any(_subject_is(s, user, namespace) for s in binding.get("subjects") or ()):
                continue
            if any(rule_allows(rule, attrs) for rule in self._rules(binding, namespace, decision)):
                return Decision(True)
        if decision.missing:
            decision.reason = "RBAC: " + ", ".join(decision.missing)
        return decision

    def _rules(self, binding: Obj, namespace: str, decision: Decision) -> list[Obj]:
        ref = binding.get("roleRef") or {}
        kind, name = ref.get("kind"), str(ref.get("name", ""))
        role = self.store.get(ROLES, namespace, name) if kind == "Role" and namespace else None
        if kind == "ClusterRole":
            role = self.store.get(CLUSTERROLES, "", name)
        if role is None:
            decision.missing.append(f'{str(kind).lower()}.{GROUP} "{name}" not found')
            return []
        return list(role.get("rules") or [])


def forbidden(user: UserInfo, attrs: Attributes, reason: str = "") -> errors.ApiError:
    """kube-apiserver's 403: ``<resource> "<name>" is forbidden: User "<u>" cannot <verb> resource ...``."""
    if not attrs.resource_request:
        why = f'User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
        return errors.ApiError(403, "Forbidden", f"forbidden: {why}" + (f": {reason}" if reason else ""))
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    why = (
        f'User "{user.name}" cannot {attrs.verb} resource "{attrs.combined_resource}" '
        f'in API group "{attrs.group}" {scope}'
    )
    if reason:
        why += f": {reason}"
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    details: Obj = {"name": attrs.name, "kind": attrs.resource} if attrs.name else {"kind": attrs.resource}
    if attrs.group:
        details["group"] = attrs.group
    return errors.ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", details)


class BindingAdmission(Admission):
    """The ``roleRef`` of a RoleBinding or ClusterRoleBinding never changes (422, as kube-apiserver answers)."""

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        if old.get("roleRef") != new.get("roleRef"):
            name = meta(old).get("name", "")
            raise errors.invalid(f"{rtype.kind}.{GROUP}", name, "roleRef", new.get("roleRef"), "cannot change roleRef")
