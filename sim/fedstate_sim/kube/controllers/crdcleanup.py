"""The CRD finalizer of apiextensions-apiserver: a CustomResourceDefinition being deleted has its custom
resources deleted (each one waiting for its own finalizers), then loses ``customresourcecleanup`` and goes.

Its condition ``Terminating`` says where it is: InstanceDeletionInProgress while resources remain,
InstanceDeletionCompleted when none does.
"""

from __future__ import annotations

from collections.abc import Hashable

from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.crds import CLEANUP_FINALIZER
from fedstate_sim.kube.history import DELETED, Change
from fedstate_sim.kube.meta import Obj, condition, meta, name_of, set_condition
from fedstate_sim.kube.resources import CRDS, crd_resource_types
from fedstate_sim.kube.store import ANY

COMPONENT = "apiextensions-apiserver"


class CrdCleanup(Controller):
    name = "crd-finalizer"

    def register(self) -> None:
        self._terminating: set[str] = set()  # names of CRDs being deleted (= their resource)
        self.ctx.store.add_listener(CRDS.resource, self._on_crd)
        self.ctx.store.add_listener(ANY, self._on_any)

    def _on_crd(self, change: Change) -> None:
        if change.type != DELETED and CLEANUP_FINALIZER in (meta(change.obj).get("finalizers") or []):
            if meta(change.obj).get("deletionTimestamp"):
                self._terminating.add(change.name)
                self.enqueue(change.name)
                return
        self._terminating.discard(change.name)

    def _on_any(self, change: Change) -> None:
        if change.type == DELETED and change.resource in self._terminating:
            self.enqueue(change.resource)

    async def reconcile(self, key: Hashable) -> Result | None:
        assert isinstance(key, str)
        store = self.ctx.store
        crd = store.get(CRDS, "", key)
        if crd is None or CLEANUP_FINALIZER not in (meta(crd).get("finalizers") or []):
            return None
        types = crd_resource_types(crd)
        remaining = store.list(types[0]) if types else []
        for item in remaining:
            if not meta(item).get("deletionTimestamp"):
                store.delete(types[0], meta(item).get("namespace") or "", name_of(item))
        remaining = store.list(types[0]) if types else []
        self._report(crd, len(remaining))
        if not remaining:
            store.mutate(CRDS, "", key, _release)
        return None

    def _report(self, crd: Obj, remaining: int) -> None:
        if remaining:
            reason, message = "InstanceDeletionInProgress", f"CustomResource deletion is in progress ({remaining} left)"
        else:
            reason, message = "InstanceDeletionCompleted", "removed all instances"
        current = condition(crd, "Terminating") or {}
        if (current.get("reason"), current.get("message")) == (reason, message):
            return
        terminating = {
            "type": "Terminating",
            "status": "True",
            "reason": reason,
            "message": message,
            "lastTransitionTime": self.ctx.store.clock.timestamp(),
        }
        self.ctx.store.mutate(CRDS, "", name_of(crd), lambda obj: set_condition(obj, terminating), "status")


def _release(obj: Obj) -> None:
    obj["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
