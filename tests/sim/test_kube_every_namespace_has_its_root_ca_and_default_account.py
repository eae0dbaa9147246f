# The official client types every model field as Optional.
# mypy: disable-error-code="union-attr, index"
"""Every namespace holds the ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap, as kube-controller-manager keeps them."""

from __future__ import annotations

from kube_support import new_namespace, wait_until
from kubernetes import client


def seeds(core: client.CoreV1Api, ns: str) -> tuple[set[str], set[str]]:
    accounts = {a.metadata.name for a in core.list_namespaced_service_account(ns).items}
    maps = {c.metadata.name for c in core.list_namespaced_config_map(ns).items}
    return accounts, maps


def test_a_new_namespace_gets_both_and_gets_them_back(sim_core: client.CoreV1Api) -> None:
    """Created with the namespace; deleted, they come back."""
    ns = new_namespace(sim_core)
    wait_until(lambda: seeds(sim_core, ns) == ({"default"}, {"kube-root-ca.crt"}))
    root_ca = sim_core.read_namespaced_config_map("kube-root-ca.crt", ns)
    assert "ca.crt" in root_ca.data and "kubernetes.io/description" in root_ca.metadata.annotations
    sim_core.delete_namespaced_config_map("kube-root-ca.crt", ns)
    sim_core.delete_namespaced_service_account("default", ns)
    wait_until(lambda: seeds(sim_core, ns) == ({"default"}, {"kube-root-ca.crt"}))


def test_the_system_namespaces_have_them_too(sim_core: client.CoreV1Api) -> None:
    """``default``, ``kube-system``, ``kube-public`` and ``kube-node-lease`` exist with theirs from the start."""
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        wait_until(lambda ns=ns: seeds(sim_core, ns) == ({"default"}, {"kube-root-ca.crt"}))
