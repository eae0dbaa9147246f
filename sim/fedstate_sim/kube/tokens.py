"""Who is asking, and may they: bearer tokens, the TokenRequest subresource, and the guard every request
of a simulated cluster passes before it is served.

- The admin token of the simulator's kubeconfig is ``kubernetes-admin`` in ``system:masters`` (as kubeadm's
  admin.conf was), allowed everything. No ``Authorization`` header: ``system:anonymous``. Any other token
  not issued here: 401 ``Unauthorized``.
- ``POST /api/v1/namespaces/<ns>/serviceaccounts/<sa>/token`` (TokenRequest, ``authentication.k8s.io/v1``)
  issues a token for ``system:serviceaccount:<ns>:<sa>``, bound to that ServiceAccount's uid (deleted or
  recreated: the token stops working) and valid for ``spec.expirationSeconds`` (default 3600, at least 600).
  Tokens are JWT-shaped but unsigned, and known only to the cluster that issued them.
- Each fresh cluster holds the bootstrap policy kube-apiserver creates: ``cluster-admin`` (bound to
  ``system:masters``), ``system:discovery`` and ``system:public-info-viewer``, so any authenticated client
  reads discovery and anyone reads /healthz and /version.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, replace

from aiohttp import web

from fedstate_sim.kube import errors, requests
from fedstate_sim.kube.meta import Obj, dumps, uid_of
from fedstate_sim.kube.paths import Target
from fedstate_sim.kube.rbac import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    GROUP,
    MASTERS,
    Attributes,
    RbacAuthorizer,
    UserInfo,
    forbidden,
    request_attributes,
)
from fedstate_sim.kube.resources import SERVICEACCOUNTS
from fedstate_sim.kube.store import ObjectStore

ADMIN_TOKEN = "fedstate-simulator-token"  # the kubeconfig the simulator writes carries it
ADMIN = UserInfo("kubernetes-admin", (MASTERS, "system:authenticated"))
ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))
AUDIENCES = ["https://kubernetes.default.svc.cluster.local"]
DEFAULT_EXPIRATION, MIN_EXPIRATION = 3600, 600
USER_KEY = web.RequestKey("fedstate.user", UserInfo)


@dataclass(frozen=True)
class IssuedToken:
    namespace: str
    name: str
    uid: str
    expires: float


def unauthorized() -> errors.ApiError:
    return errors.ApiError(401, "Unauthorized", "Unauthorized")


class Tokens:
    """Bearer tokens of one simulated cluster: the admin's and those issued to ServiceAccounts."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._issued: dict[str, IssuedToken] = {}

    def authenticate(self, header: str | None) -> UserInfo:
        if header is None:
            return ANONYMOUS
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        if token == ADMIN_TOKEN:
            return ADMIN
        issued = self._issued.get(token)
        if issued is None or issued.expires <= time.time():
            raise unauthorized()
        account = self.store.get(SERVICEACCOUNTS, issued.namespace, issued.name)
        if account is None or uid_of(account) != issued.uid:
            raise unauthorized()
        ns = issued.namespace
        return UserInfo(
            f"system:serviceaccount:{ns}:{issued.name}",
            ("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"),
        )

    async def token_request(self, request: web.Request, target: Target) -> web.Response:
        """The ``serviceaccounts/token`` subresource: create only, for an existing ServiceAccount."""
        if request.method != "POST":
            raise errors.method_not_allowed(request.method, "serviceaccounts/token")
        namespace, name = target.namespace or "", target.name or ""
        account = self.store.require(SERVICEACCOUNTS, namespace, name)
        body = requests.decode_json(await request.read()) or {}
        spec = dict(body.get("spec") or {}) if isinstance(body, dict) else {}
        seconds = spec.get("expirationSeconds") or DEFAULT_EXPIRATION
        if not isinstance(seconds, int) or seconds < MIN_EXPIRATION:
            raise errors.invalid(
                "TokenRequest.authentication.k8s.io",
                name,
                "spec.expirationSeconds",
                seconds,
                "may not specify a duration less than 10 minutes",
            )
        now = time.time()
        token = _jwt(namespace, name, uid_of(account), int(now), int(now) + seconds, spec.get("audiences") or AUDIENCES)
        self._issued[token] = IssuedToken(namespace, name, uid_of(account), now + seconds)
        answer = {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": {
                "audiences": spec.get("audiences") or AUDIENCES,
                "expirationSeconds": seconds,
                "boundObjectRef": spec.get("boundObjectRef"),
            },
            "status": {"token": token, "expirationTimestamp": _rfc3339(now + seconds)},
        }
        return web.Response(body=dumps(answer), status=201, content_type="application/json")


def _b64(data: Obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _jwt(namespace: str, name: str, uid: str, issued: int, expires: int, audiences: list[str]) -> str:
    claims = {
        "aud": audiences,
        "exp": expires,
        "iat": issued,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": f"system:serviceaccount:{namespace}:{name}",
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
    }
    return f"{_b64({'alg': 'none', 'kid': 'fedstate-simulator'})}.{_b64(claims)}.{secrets.token_urlsafe(32)}"


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class Guard:
    """Authenticate, then authorize with RBAC, every request before it is served."""

    def __init__(self, store: ObjectStore) -> None:
        self.tokens = Tokens(store)
        self.rbac = RbacAuthorizer(store)

    def admit(self, request: web.Request) -> None:
        user = self.tokens.authenticate(request.headers.get("Authorization"))
        request[USER_KEY] = user
        attrs = request_attributes(request.method, request.path, request.query)
        self.require(user, attrs)
        if attrs.subresource == "exec" and attrs.verb == "get":
            # A WebSocket exec is a GET; Kubernetes 1.35 also asks for create, as a POST (SPDY) exec is.
            self.require(user, replace(attrs, verb="create"))

    def require(self, user: UserInfo, attrs: Attributes) -> None:
        decision = self.rbac.decide(user, attrs)
        if not decision.allowed:
            raise forbidden(user, attrs, decision.reason)

    def require_create(self, request: web.Request) -> None:
        """Server-side apply of an absent object creates it: kube-apiserver asks for create too."""
        attrs = request_attributes(request.method, request.path, request.query)
        self.require(request.get(USER_KEY, ANONYMOUS), replace(attrs, verb="create", name=""))


def bootstrap_policy(store: ObjectStore) -> None:
    """The roles and bindings kube-apiserver's bootstrap policy starts every cluster with (a subset)."""
    roles = {
        "cluster-admin": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ],
        "system:discovery": [
            {
                "nonResourceURLs": [
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/openapi",
                    "/openapi/*",
                    "/version",
                    "/version/",
                ],
                "verbs": ["get"],
            }
        ],
        "system:public-info-viewer": [
            {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}
        ],
    }
    subjects = {
        "cluster-admin": [MASTERS],
        "system:discovery": ["system:authenticated"],
        "system:public-info-viewer": ["system:authenticated", "system:unauthenticated"],
    }
    labels = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    annotations = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
    for name, rules in roles.items():
        metadata = {"name": name, "labels": labels, "annotations": annotations}
        store.create(
            CLUSTERROLES, {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRole", "metadata": metadata, "rules": rules}
        )
        store.create(
            CLUSTERROLEBINDINGS,
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": dict(metadata),
                "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": name},
                "subjects": [{"apiGroup": GROUP, "kind": "Group", "name": group} for group in subjects[name]],
            },
        )
