"""PersistentVolumeClaim binding with a fake CSI provisioner (``sim.fedstate.io/csi``): a claim
whose storage class exists is Bound to a made-up volume; otherwise it stays Pending with a
ProvisioningFailed warning, and is retried when storage classes change. A Bound claim whose request
grew (admission allowed it: the class expands) gets the new size in ``status.capacity`` at once.
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal

from kubernetes.utils import parse_quantity

from fedstate_sim.kube.claims import requested_storage
from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.defaults import PROVISIONER
from fedstate_sim.kube.history import DELETED, Change
from fedstate_sim.kube.meta import Obj, meta, name_of, spec_of, status_of, uid_of
from fedstate_sim.kube.resources import PVCS, STORAGECLASSES

COMPONENT = "persistentvolume-controller"


class VolumeBinder(Controller):
    name = COMPONENT

    def register(self) -> None:
        self._waiting: set[tuple[str, str]] = set()
        self.ctx.store.add_listener(PVCS.resource, self._on_claim)
        self.ctx.store.add_listener(STORAGECLASSES.resource, self._on_class)

    def _on_claim(self, change: Change) -> None:
        key = (change.namespace, change.name)
        if change.type == DELETED:
            self._waiting.discard(key)
        elif status_of(change.obj).get("phase") == "Bound":
            self._waiting.discard(key)
            if _grown(change.obj):
                self.enqueue(key)
        else:
            self._waiting.add(key)
            self.enqueue(key)

    def _on_class(self, change: Change) -> None:
        for key in self._waiting:
            self.enqueue(key)

    async def reconcile(self, key: Hashable) -> Result | None:
        assert isinstance(key, tuple)
        claim = self.ctx.store.get(PVCS, *key)
        if claim is None:
            return None
        if status_of(claim).get("phase") == "Bound":
            if _grown(claim):
                self._expand(claim)
            return None
        class_name = spec_of(claim).get("storageClassName")
        if class_name and self.ctx.store.get(STORAGECLASSES, "", class_name) is not None:
            self._bind(claim, class_name)
        elif class_name:
            self.ctx.events.warning(
                claim, "ProvisioningFailed", f'storageclass.storage.k8s.io "{class_name}" not found', COMPONENT
            )
        else:
            self.ctx.events.normal(
                claim,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
                COMPONENT,
            )
        return None

    def _bind(self, claim: Obj, class_name: str) -> None:
        namespace, name = meta(claim)["namespace"], name_of(claim)
        volume = f"pvc-{uid_of(claim)}"
        self.ctx.store.mutate(PVCS, namespace, name, lambda obj: _attach(obj, volume))
        status = {
            "phase": "Bound",
            "accessModes": spec_of(claim).get("accessModes") or ["ReadWriteOnce"],
            "capacity": {"storage": _requested(claim)},
        }
        self.ctx.store.mutate(PVCS, namespace, name, lambda obj: obj.update(status=status), "status")
        self.ctx.events.normal(
            claim,
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {volume} using {PROVISIONER} (fedstate simulator, class {class_name})",
            COMPONENT,
        )

    def _expand(self, claim: Obj) -> None:
        size = _requested(claim)
        self.ctx.store.mutate(
            PVCS,
            meta(claim)["namespace"],
            name_of(claim),
            lambda obj: obj["status"]["capacity"].update(storage=size),
            "status",
        )
        self.ctx.events.normal(
            claim,
            "VolumeResizeSuccessful",
            f"resize volume to {size} (fedstate simulator: instant)",
            "external-resizer",
        )


def _requested(claim: Obj) -> str:
    return str(((spec_of(claim).get("resources") or {}).get("requests") or {}).get("storage", "1Gi"))


def _grown(claim: Obj) -> bool:
    capacity = (status_of(claim).get("capacity") or {}).get("storage")
    return capacity is not None and requested_storage(claim) > Decimal(parse_quantity(capacity))


def _attach(claim: Obj, volume: str) -> None:
    claim["spec"]["volumeName"] = volume
    annotations = claim["metadata"].setdefault("annotations", {})
    annotations["pv.kubernetes.io/bind-completed"] = "yes"
    annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
    annotations["volume.kubernetes.io/storage-provisioner"] = PROVISIONER
