"""RBAC evaluation in the simulator: request attributes taken from the URL as kube-apiserver takes them,
and rules matched by verb, API group, resource and subresource, resource name, URL and binding scope."""

from __future__ import annotations

from typing import Any

import pytest

from fedstate_sim.kube.rbac import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    RBAC_TYPES,
    ROLEBINDINGS,
    ROLES,
    Attributes,
    RbacAuthorizer,
    UserInfo,
    forbidden,
    request_attributes,
)
from fedstate_sim.kube.resources import NAMESPACES, Registry
from fedstate_sim.kube.store import ObjectStore

SA = UserInfo(
    "system:serviceaccount:app:robot", ("system:serviceaccounts", "system:serviceaccounts:app", "system:authenticated")
)
ROBOT = {"kind": "ServiceAccount", "name": "robot", "namespace": "app"}


def attrs(method: str, path: str, **query: str) -> Attributes:
    return request_attributes(method, path, query)


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/app/pods/p", {}, ("get", "", "app", "pods", "", "p")),
        ("GET", "/api/v1/namespaces/app/pods", {}, ("list", "", "app", "pods", "", "")),
        ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "", "pods", "", "")),
        (
            "GET",
            "/api/v1/namespaces/app/configmaps",
            {"fieldSelector": "metadata.name=c"},
            ("list", "", "app", "configmaps", "", "c"),
        ),
        ("POST", "/apis/apps/v1/namespaces/app/statefulsets", {}, ("create", "apps", "app", "statefulsets", "", "")),
        ("PUT", "/apis/x.io/v1/namespaces/app/things/t/status", {}, ("update", "x.io", "app", "things", "status", "t")),
        ("PATCH", "/api/v1/nodes/n1", {}, ("patch", "", "", "nodes", "", "n1")),
        ("DELETE", "/api/v1/namespaces/app/secrets", {}, ("deletecollection", "", "app", "secrets", "", "")),
        ("DELETE", "/api/v1/namespaces/app", {}, ("delete", "", "app", "namespaces", "", "app")),
        ("GET", "/api/v1/namespaces/app/pods/p/exec", {}, ("get", "", "app", "pods", "exec", "p")),
    ],
)
def test_request_attributes_come_from_the_url(
    method: str, path: str, query: dict[str, str], expected: tuple[str, ...]
) -> None:
    """Verb, group, namespace, resource, subresource and name as RequestInfoFactory derives them."""
    got = request_attributes(method, path, query)
    assert got.resource_request
    assert expected == (got.verb, got.group, got.namespace, got.resource, got.subresource, got.name)


def test_discovery_and_health_are_non_resource_requests() -> None:
    """/api, /apis/apps/v1 and /version are paths, authorized by nonResourceURLs."""
    assert [(False, "get")] * 3 == [
        (a.resource_request, a.verb)
        for a in (attrs("GET", "/api"), attrs("GET", "/apis/apps/v1"), attrs("GET", "/version"))
    ]


@pytest.fixture
def store() -> ObjectStore:
    store = ObjectStore(Registry.with_builtins(), 100)
    for rtype in RBAC_TYPES:
        store.registry.add(rtype)
    for name in ("app", "other"):
        store.create(NAMESPACES, {"metadata": {"name": name}})
    return store


def grant(store: ObjectStore, rules: list[dict[str, Any]], namespace: str | None = "app", kind: str = "Role") -> None:
    """Bind a role of ``rules`` to the robot: in ``namespace`` (a RoleBinding) or cluster-wide (None)."""
    role = {"metadata": {"name": "r"}, "rules": rules}
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": "r"}
    binding = {"metadata": {"name": "b"}, "roleRef": ref, "subjects": [ROBOT]}
    store.create(ROLES if kind == "Role" else CLUSTERROLES, role, namespace if kind == "Role" else None)
    if namespace is None:
        store.create(CLUSTERROLEBINDINGS, binding)
    else:
        store.create(ROLEBINDINGS, binding, namespace)


def allowed(store: ObjectStore, method: str, path: str, **query: str) -> bool:
    return RbacAuthorizer(store).decide(SA, attrs(method, path, **query)).allowed


def test_verbs_are_matched_one_by_one_or_by_star(store: ObjectStore) -> None:
    """get+list grant no watch, no delete; ``*`` grants every verb."""
    grant(store, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])
    assert allowed(store, "GET", "/api/v1/namespaces/app/pods")
    assert not allowed(store, "GET", "/api/v1/namespaces/app/pods", watch="1")
    assert not allowed(store, "DELETE", "/api/v1/namespaces/app/pods/p")
    store.create(
        ROLES,
        {"metadata": {"name": "all"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]},
        "app",
    )
    store.create(
        ROLEBINDINGS,
        {"metadata": {"name": "all"}, "roleRef": {"kind": "Role", "name": "all"}, "subjects": [ROBOT]},
        "app",
    )
    assert allowed(store, "DELETE", "/api/v1/namespaces/app/pods")


def test_api_groups_must_match(store: ObjectStore) -> None:
    """A rule for the core group grants nothing in apps; ``*`` grants every group."""
    grant(store, [{"apiGroups": [""], "resources": ["statefulsets"], "verbs": ["get"]}])
    assert not allowed(store, "GET", "/apis/apps/v1/namespaces/app/statefulsets/s")
    store.create(
        ROLES,
        {"metadata": {"name": "g"}, "rules": [{"apiGroups": ["*"], "resources": ["statefulsets"], "verbs": ["get"]}]},
        "app",
    )
    store.create(
        ROLEBINDINGS, {"metadata": {"name": "g"}, "roleRef": {"kind": "Role", "name": "g"}, "subjects": [ROBOT]}, "app"
    )
    assert allowed(store, "GET", "/apis/apps/v1/namespaces/app/statefulsets/s")


def test_a_subresource_needs_its_own_rule_or_a_star_slash_rule(store: ObjectStore) -> None:
    """``pods`` does not grant ``pods/exec``; ``*/status`` grants every status but no exec."""
    grant(store, [{"apiGroups": ["*"], "resources": ["pods", "*/status"], "verbs": ["get", "update"]}])
    assert not allowed(store, "GET", "/api/v1/namespaces/app/pods/p/exec")
    assert allowed(store, "PUT", "/api/v1/namespaces/app/pods/p/status")
    assert allowed(store, "PUT", "/apis/x.io/v1/namespaces/app/things/t/status")


def test_resource_names_limit_a_rule_to_those_objects(store: ObjectStore) -> None:
    """resourceNames grant get of that object only, and a list only when a field selector pins the name."""
    grant(store, [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["c"], "verbs": ["get", "list"]}])
    assert allowed(store, "GET", "/api/v1/namespaces/app/configmaps/c")
    assert not allowed(store, "GET", "/api/v1/namespaces/app/configmaps/d")
    assert not allowed(store, "GET", "/api/v1/namespaces/app/configmaps")
    assert allowed(store, "GET", "/api/v1/namespaces/app/configmaps", fieldSelector="metadata.name=c")


def test_a_role_binding_grants_only_in_its_namespace(store: ObjectStore) -> None:
    """A RoleBinding (even to a ClusterRole) grants nothing in another namespace, across all of them or on
    cluster-scoped kinds; a ClusterRoleBinding grants everywhere."""
    grant(store, [{"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["list"]}], kind="ClusterRole")
    assert allowed(store, "GET", "/api/v1/namespaces/app/pods")
    assert not allowed(store, "GET", "/api/v1/namespaces/other/pods")
    assert not allowed(store, "GET", "/api/v1/pods")
    assert not allowed(store, "GET", "/api/v1/nodes")
    store.create(
        CLUSTERROLEBINDINGS,
        {"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "r"}, "subjects": [ROBOT]},
    )
    assert allowed(store, "GET", "/api/v1/namespaces/other/pods")
    assert allowed(store, "GET", "/api/v1/nodes")


def test_subjects_name_the_user_its_groups_or_its_service_account(store: ObjectStore) -> None:
    """A Group subject matches the user's groups; a ServiceAccount of another namespace does not match."""
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    store.create(CLUSTERROLES, {"metadata": {"name": "r"}, "rules": rules})
    ref = {"kind": "ClusterRole", "name": "r"}
    elsewhere = {"kind": "ServiceAccount", "name": "robot", "namespace": "other"}
    store.create(CLUSTERROLEBINDINGS, {"metadata": {"name": "b"}, "roleRef": ref, "subjects": [elsewhere]})
    assert not allowed(store, "GET", "/api/v1/namespaces/app/pods/p")
    group = {"kind": "Group", "name": "system:serviceaccounts:app"}
    store.create(CLUSTERROLEBINDINGS, {"metadata": {"name": "g"}, "roleRef": ref, "subjects": [group]})
    assert allowed(store, "GET", "/api/v1/namespaces/app/pods/p")


def test_non_resource_urls_match_exactly_or_by_prefix(store: ObjectStore) -> None:
    """``/apis/*`` grants every discovery document under /apis, not /api."""
    grant(store, [{"nonResourceURLs": ["/apis/*", "/version"], "verbs": ["get"]}], namespace=None, kind="ClusterRole")
    assert allowed(store, "GET", "/apis/apps/v1")
    assert allowed(store, "GET", "/version")
    assert not allowed(store, "GET", "/api")


def test_the_forbidden_status_reads_as_kube_apiserver_writes_it(store: ObjectStore) -> None:
    """403 Forbidden naming the resource, the object, the user, the verb and the scope, in its words."""
    error = forbidden(SA, attrs("GET", "/api/v1/namespaces/kube-system/secrets"))
    assert (403, "Forbidden") == (error.code, error.reason)
    assert error.message.startswith(
        'secrets is forbidden: User "system:serviceaccount:app:robot" cannot list resource "secrets" '
        'in API group "" in the namespace "kube-system"'
    )
    named = forbidden(SA, attrs("DELETE", "/apis/storage.k8s.io/v1/storageclasses/fast"))
    assert named.message.startswith(
        'storageclasses.storage.k8s.io "fast" is forbidden: User "system:serviceaccount:app:robot" cannot delete '
        'resource "storageclasses" in API group "storage.k8s.io" at the cluster scope'
    )
    assert {"name": "fast", "group": "storage.k8s.io", "kind": "storageclasses"} == named.details


def test_a_binding_to_a_missing_role_is_named_in_the_reason(store: ObjectStore) -> None:
    """A binding whose ClusterRole does not exist grants nothing and says so (``RBAC: ... not found``)."""
    ref = {"kind": "ClusterRole", "name": "ghost"}
    store.create(CLUSTERROLEBINDINGS, {"metadata": {"name": "b"}, "roleRef": ref, "subjects": [ROBOT]})
    decision = RbacAuthorizer(store).decide(SA, attrs("GET", "/api/v1/nodes"))
    assert (False, 'RBAC: clusterrole.rbac.authorization.k8s.io "ghost" not found') == (
        decision.allowed,
        decision.reason,
    )
