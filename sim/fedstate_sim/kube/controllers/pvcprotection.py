"""``kubernetes.io/pvc-protection``: a claim deleted while a pod still uses it is not removed until no pod does.

The API server's StorageObjectInUseProtection admission plugin gives every new claim the finalizer; this
controller (kube-controller-manager's ``pvc-protection-controller``) takes it off a claim being deleted once no
pod of its namespace mounts it, save pods that have finished (Succeeded, Failed). Until then the claim shows
``deletionTimestamp`` (kubectl: Terminating), and its volume — the member's data — stays with the pod using it.
"""

from __future__ import annotations

from collections.abc import Hashable

from fedstate_sim.kube.claims import PVC_PROTECTION as FINALIZER
from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.history import DELETED, Change
from fedstate_sim.kube.meta import Obj, meta, status_of
from fedstate_sim.kube.pods import claims_of
from fedstate_sim.kube.resources import PODS, PVCS

COMPONENT = "pvc-protection-controller"
_FINISHED = ("Succeeded", "Failed")


def uses(pod: Obj, claim: str) -> bool:
    return status_of(pod).get("phase") not in _FINISHED and claim in claims_of(pod)


class PvcProtection(Controller):
    name = COMPONENT

    def register(self) -> None:
        self.ctx.store.add_listener(PVCS.resource, self._on_claim)
        self.ctx.store.add_listener(PODS.resource, self._on_pod)

    def _on_claim(self, change: Change) -> None:
        if change.type != DELETED and meta(change.obj).get("deletionTimestamp"):
            self.enqueue((change.namespace, change.name))

    def _on_pod(self, change: Change) -> None:
        if change.type == DELETED or status_of(change.obj).get("phase") in _FINISHED:
            for claim in claims_of(change.obj):
                self.enqueue((change.namespace, claim))

    async def reconcile(self, key: Hashable) -> Result | None:
        assert isinstance(key, tuple)
        namespace, name = key
        claim = self.ctx.store.get(PVCS, namespace, name)
        if claim is None or not meta(claim).get("deletionTimestamp") or FINALIZER not in _finalizers(claim):
            return None
        if any(uses(pod, name) for pod in self.ctx.store.list(PODS, namespace)):
            return None  # a pod's deletion or end enqueues it again
        self.ctx.store.mutate(PVCS, namespace, name, _release)
        return None


def _finalizers(obj: Obj) -> list[str]:
    return list(meta(obj).get("finalizers") or [])


def _release(claim: Obj) -> None:
    meta(claim)["finalizers"] = [f for f in _finalizers(claim) if f != FINALIZER]
