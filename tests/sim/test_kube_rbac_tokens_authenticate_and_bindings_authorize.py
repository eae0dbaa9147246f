# The official client types every model field as Optional; these tests read fields the server always sets.
# mypy: disable-error-code="union-attr, arg-type, index, operator, misc"
"""Through the official client: ServiceAccount tokens from TokenRequest are authenticated and what their
bindings do not grant is refused 403 — reads, watches, server-side apply, exec — in kube-apiserver's words."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from fedstate_sim.config import default_config
from fedstate_sim.threaded import ThreadedWorld
from fedstate_sim.world import NullMemberHost, World

SUFFIX = " (fedstate simulator)"


@pytest.fixture(scope="module")
def world() -> Iterator[ThreadedWorld]:
    with World.run_in_thread(default_config(1), host=NullMemberHost()) as w:
        yield w


@pytest.fixture(scope="module")
def admin(world: ThreadedWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.ApiClient]:
    kubeconfig = world.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")
    with config.new_client_from_config(str(Path(kubeconfig)), context="member-1") as api:
        yield api


@pytest.fixture
def ns(admin: client.ApiClient) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(admin).create_namespace({"metadata": {"name": name}})
    client.CoreV1Api(admin).create_namespaced_service_account(name, {"metadata": {"name": "robot"}})
    return name


def token_for(admin: client.ApiClient, ns: str, seconds: int = 3600) -> str:
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds)
    )
    return str(client.CoreV1Api(admin).create_namespaced_service_account_token("robot", ns, request).status.token)


def as_token(admin: client.ApiClient, token: str | None) -> client.ApiClient:
    configuration = client.Configuration(host=admin.configuration.host)
    if token is not None:
        configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)


def grant(admin: client.ApiClient, ns: str, rules: list[dict[str, Any]]) -> None:
    rbac = client.RbacAuthorizationV1Api(admin)
    rbac.create_namespaced_role(ns, {"metadata": {"name": "robot"}, "rules": rules})
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "robot"}
    subjects = [{"kind": "ServiceAccount", "name": "robot", "namespace": ns}]
    rbac.create_namespaced_role_binding(ns, {"metadata": {"name": "robot"}, "roleRef": ref, "subjects": subjects})


def refusal(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ApiException) as answer:
        call()
    status = json.loads(answer.value.body)
    return answer.value.status, status["reason"], status["message"].removesuffix(SUFFIX)


def test_a_service_account_token_reads_what_its_role_grants_and_nothing_else(admin: client.ApiClient, ns: str) -> None:
    """A Role granting get/list of pods in its namespace: listing there works, Secrets and another
    namespace are 403 naming the ServiceAccount, the verb, the resource and the namespace."""
    grant(admin, ns, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])
    user = f"system:serviceaccount:{ns}:robot"
    with as_token(admin, token_for(admin, ns)) as api:
        core = client.CoreV1Api(api)
        assert [] == core.list_namespaced_pod(ns).items
        assert (
            403,
            "Forbidden",
            f'secrets is forbidden: User "{user}" cannot list resource "secrets" in API group "" in the namespace "{ns}"',
        ) == refusal(lambda: core.list_namespaced_secret(ns))
        assert (
            403,
            "Forbidden",
            f'pods is forbidden: User "{user}" cannot list resource "pods" in API group "" in the namespace "kube-system"',
        ) == refusal(lambda: core.list_namespaced_pod("kube-system"))
        assert (
            403,
            "Forbidden",
            f'nodes "n" is forbidden: User "{user}" cannot delete resource "nodes" in API group "" at the cluster scope',
        ) == refusal(lambda: core.delete_node("n"))


def test_a_watch_is_authorized_as_watch(admin: client.ApiClient, ns: str) -> None:
    """get and list of pods do not grant watching them: the watch is 403."""
    grant(admin, ns, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])
    with as_token(admin, token_for(admin, ns)) as api:
        core = client.CoreV1Api(api)
        code, _, message = refusal(
            lambda: next(iter(watch.Watch().stream(core.list_namespaced_pod, ns, timeout_seconds=1)))
        )
        assert (403, 'cannot watch resource "pods"') == (
            code,
            message[message.index("cannot") : message.index(" in API")],
        )


def test_server_side_apply_of_a_new_object_needs_create(admin: client.ApiClient, ns: str) -> None:
    """patch alone does not create through server-side apply; with create it does."""
    grant(admin, ns, [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"]}])
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    with as_token(admin, token_for(admin, ns)) as api:
        core = client.CoreV1Api(api)

        def apply() -> Any:
            return core.patch_namespaced_config_map(
                "c", ns, body, field_manager="robot", _content_type="application/apply-patch+yaml"
            )

        assert 'cannot create resource "configmaps"' in refusal(apply)[2]
        rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch", "create"]}]
        client.RbacAuthorizationV1Api(admin).patch_namespaced_role("robot", ns, {"rules": rules})
        assert {"k": "v"} == apply().data


def test_a_websocket_exec_needs_get_and_create_on_pods_exec(admin: client.ApiClient, ns: str) -> None:
    """get on pods/exec alone (Kubernetes before 1.35) is refused: the WebSocket exec needs create too."""
    grant(admin, ns, [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}])
    url = f"{admin.configuration.host}/api/v1/namespaces/{ns}/pods/p/exec"
    token = token_for(admin, ns)

    async def connect() -> tuple[int, int, str]:
        """The status of a WebSocket upgrade, then of a plain GET with its Status message."""
        params = {"command": "true", "stdout": "true"}
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
            try:
                async with session.ws_connect(url, params=params, protocols=("v4.channel.k8s.io",)):
                    upgraded = 101
            except aiohttp.WSServerHandshakeError as refused:
                upgraded = refused.status
            async with session.get(url, params=params) as plain:
                return upgraded, plain.status, (await plain.json())["message"]

    upgraded, status, message = asyncio.run(connect())
    assert (403, 403) == (upgraded, status)
    assert message.startswith(
        f'pods "p" is forbidden: User "system:serviceaccount:{ns}:robot" cannot create resource "pods/exec"'
    )


def test_unknown_tokens_are_401_and_no_token_is_anonymous(admin: client.ApiClient, ns: str) -> None:
    """A token the cluster did not issue: 401 Unauthorized; none: system:anonymous, who may read /version only."""
    with as_token(admin, "not-a-token") as api:
        assert (401, "Unauthorized", "Unauthorized") == refusal(lambda: client.CoreV1Api(api).list_namespaced_pod(ns))
    with as_token(admin, None) as api:
        assert client.VersionApi(api).get_code().git_version
        message = refusal(lambda: client.CoreV1Api(api).list_namespaced_pod(ns))[2]
        assert message.startswith('pods is forbidden: User "system:anonymous" cannot list')
        assert (
            'forbidden: User "system:anonymous" cannot get path "/api/v1/"'
            == refusal(lambda: client.CoreV1Api(api).get_api_resources())[2]
        )


def test_a_token_dies_with_its_service_account(admin: client.ApiClient, ns: str) -> None:
    """Deleting the ServiceAccount invalidates its tokens (401), even once a namesake is recreated."""
    token = token_for(admin, ns)
    core = client.CoreV1Api(admin)
    core.delete_namespaced_service_account("robot", ns)
    core.create_namespaced_service_account(ns, {"metadata": {"name": "robot"}})
    with as_token(admin, token) as api:
        assert 401 == refusal(lambda: client.CoreV1Api(api).list_namespaced_pod(ns))[0]


def test_token_requests_are_validated(admin: client.ApiClient, ns: str) -> None:
    """Under ten minutes: 422; for a ServiceAccount that does not exist: 404."""
    assert (422, "Invalid") == refusal(lambda: token_for(admin, ns, seconds=60))[:2]
    assert (404, "NotFound") == refusal(lambda: token_for(admin, "kube-public"))[:2]


def test_a_binding_keeps_its_role_ref(admin: client.ApiClient, ns: str) -> None:
    """Changing a RoleBinding's roleRef is 422 Invalid, as in Kubernetes; delete and recreate it instead."""
    grant(admin, ns, [])
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}
    patch = {"roleRef": ref}
    assert (422, "Invalid") == refusal(
        lambda: client.RbacAuthorizationV1Api(admin).patch_namespaced_role_binding("robot", ns, patch)
    )[:2]


def test_system_masters_keep_every_right_without_the_cluster_admin_binding(tmp_path: Path) -> None:
    """The admin identity is in system:masters, allowed before RBAC is asked, as kube-apiserver does."""
    with World.run_in_thread(default_config(1), host=NullMemberHost()) as own:
        with config.new_client_from_config(str(own.write_kubeconfig(tmp_path / "config")), context="member-1") as api:
            client.RbacAuthorizationV1Api(api).delete_cluster_role_binding("cluster-admin")
            assert client.CoreV1Api(api).create_namespace({"metadata": {"name": "still"}}).metadata.name == "still"
