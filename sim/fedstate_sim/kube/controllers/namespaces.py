"""What kube-controller-manager puts in every namespace: the ``default`` ServiceAccount (serviceaccount
controller) and the ``kube-root-ca.crt`` ConfigMap (root-ca-cert-publisher), recreated when deleted.

The simulated API server speaks plain HTTP, so the published ``ca.crt`` is a placeholder that says so.
"""

from __future__ import annotations

from collections.abc import Hashable

from fedstate_sim.kube import errors
from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.history import ADDED, DELETED, Change
from fedstate_sim.kube.meta import Obj, meta
from fedstate_sim.kube.resources import CONFIGMAPS, NAMESPACES, SERVICEACCOUNTS, ResourceType

ROOT_CA, DEFAULT_ACCOUNT = "kube-root-ca.crt", "default"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as "
    "the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
    "Kubernetes clusters."
)
PLACEHOLDER_CA = "# fedstate simulator: the API server speaks plain HTTP; there is no certificate authority\n"


class NamespaceSeeds(Controller):
    name = "namespace-seeds"

    def register(self) -> None:
        self.ctx.store.add_listener(NAMESPACES.resource, self._on_namespace)
        self.ctx.store.add_listener(CONFIGMAPS.resource, self._on_seed)
        self.ctx.store.add_listener(SERVICEACCOUNTS.resource, self._on_seed)

    def _on_namespace(self, change: Change) -> None:
        if change.type == ADDED:
            self.enqueue(change.name)

    def _on_seed(self, change: Change) -> None:
        if change.type == DELETED and change.name in (ROOT_CA, DEFAULT_ACCOUNT):
            self.enqueue(change.namespace)

    async def reconcile(self, key: Hashable) -> Result | None:
        assert isinstance(key, str)
        namespace = self.ctx.store.get(NAMESPACES, "", key)
        if namespace is None or meta(namespace).get("deletionTimestamp"):
            return None
        self._ensure(
            SERVICEACCOUNTS, key, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT_ACCOUNT}}
        )
        self._ensure(CONFIGMAPS, key, root_ca())
        return None

    def _ensure(self, rtype: ResourceType, namespace: str, obj: Obj) -> None:
        if self.ctx.store.get(rtype, namespace, meta(obj)["name"]) is not None:
            return
        try:
            self.ctx.store.create(rtype, obj, namespace, owned=True)
        except errors.ApiError as exc:
            if exc.code not in (403, 404, 409):  # namespace going or gone, or created meanwhile
                raise


def root_ca() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": ROOT_CA, "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}},
        "data": {"ca.crt": PLACEHOLDER_CA},
    }
