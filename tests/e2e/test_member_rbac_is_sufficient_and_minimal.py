"""Collectors and agents of the local stack run with the ServiceAccount, roles and bindings of
deploy/k8s/member-cluster.yaml: enough to create, scale and delete a replica set across clusters with no
request refused, and not enough to do what they must not (answered 403 as kube-apiserver answers)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from fedstate.cli.localstack import LocalStack

from .invariants import api_answers, created, wait_gone, wait_settled

NAME = "guarded"
PASSWORD = "rbac-pass"
MEMBER = "system:serviceaccount:fedstate-system:fedstate-member"


def refused(stack: LocalStack) -> dict[tuple[str, str, str, str], int]:
    return {key: n for key, n in api_answers(stack).items() if key[3] in ("401", "403")}


def forbidden_message(call: Callable[[], Any]) -> str:
    with pytest.raises(ApiException) as answer:
        call()
    status = json.loads(answer.value.body)
    assert (403, "Forbidden", "Status") == (answer.value.status, status["reason"], status["kind"])
    return str(status["message"]).removesuffix(" (fedstate simulator)")


def test_members_run_as_their_service_account_which_suffices_and_is_refused_the_rest(stack: LocalStack) -> None:
    """Create, scale and delete with no 401/403 answered; then node deletion, RBAC writes, pod creation and
    namespace deletion as the member ServiceAccount are 403 with kube-apiserver's message."""
    member_config = yaml.safe_load(stack.paths.member_kubeconfig.read_text())
    admin_config = yaml.safe_load(stack.paths.kubeconfig.read_text())
    assert {u["user"]["token"] for u in member_config["users"]}.isdisjoint(
        u["user"]["token"] for u in admin_config["users"]
    )

    created(stack, NAME, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}}}", PASSWORD)
    stack.cli("scale", "mcm", NAME, "--replicas", "5")
    wait_settled(stack, NAME)
    stack.cli("delete", "mcm", NAME)
    wait_gone(stack, NAME)
    assert {} == refused(stack)

    with config.new_client_from_config(str(stack.paths.member_kubeconfig), context="member-1") as api:
        core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
        node = core.list_node().items[0].metadata.name
        assert forbidden_message(lambda: core.delete_node(node)) == (
            f'nodes "{node}" is forbidden: User "{MEMBER}" cannot delete resource "nodes" in API group "" '
            "at the cluster scope"
        )
        binding = {
            "metadata": {"name": "escalate"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "fedstate-member", "namespace": "fedstate-system"}],
        }
        assert forbidden_message(lambda: rbac.create_cluster_role_binding(binding)) == (
            f'clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "{MEMBER}" cannot create '
            'resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope'
        )
        pod = {"metadata": {"name": "intruder"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        assert forbidden_message(lambda: core.create_namespaced_pod("default", pod)) == (
            f'pods is forbidden: User "{MEMBER}" cannot create resource "pods" in API group "" '
            'in the namespace "default"'
        )
        assert forbidden_message(lambda: core.delete_namespace("kube-system")) == (
            f'namespaces "kube-system" is forbidden: User "{MEMBER}" cannot delete resource "namespaces" '
            'in API group "" in the namespace "kube-system"'
        )
    # Counted as kube-apiserver counts them, so the "none refused" above is a real check.
    assert {"nodes", "clusterrolebindings", "pods", "namespaces"} == {
        resource for (_, _, resource, code) in refused(stack) if code == "403"
    }
