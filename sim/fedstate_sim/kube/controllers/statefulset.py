"""StatefulSet controller: pods ``<sts>-<ordinal>`` and their PVCs, ordered scale up/down,
one-at-a-time rolling update (highest ordinal first, waiting for Ready), and status.
"""

from __future__ import annotations

from collections.abc import Hashable

from fedstate_sim.kube import errors
from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.controllers.statefulset_plan import (
    claim_name,
    claim_templates,
    is_ready,
    new_claim,
    new_pod,
    next_step,
    ordinal_of,
    pod_name,
    status_for,
)
from fedstate_sim.kube.history import MODIFIED, Change
from fedstate_sim.kube.meta import Obj, meta, name_of, owner_reference, spec_of, uid_of
from fedstate_sim.kube.resources import PODS, PVCS, STATEFULSETS
from fedstate_sim.kube.selectors import from_label_selector_object

COMPONENT = "statefulset-controller"


class StatefulSetController(Controller):
    name = COMPONENT

    def register(self) -> None:
        self.ctx.store.add_listener(STATEFULSETS.resource, self._on_sts)
        self.ctx.store.add_listener(PODS.resource, self._on_pod)

    def _on_sts(self, change: Change) -> None:
        self.enqueue((change.namespace, change.name))

    def _on_pod(self, change: Change) -> None:
        if change.type == MODIFIED and change.old is not None and not _matters(change.old, change.obj):
            return  # e.g. the scheduler binding it: nothing the plan or the status reads
        for ref in meta(change.obj).get("ownerReferences") or []:
            if ref.get("kind") == "StatefulSet":
                self.enqueue((change.namespace, ref.get("name")))

    async def reconcile(self, key: Hashable) -> Result | None:
        assert isinstance(key, tuple)
        namespace, name = key
        sts = self.ctx.store.get(STATEFULSETS, namespace, name)
        if sts is None or meta(sts).get("deletionTimestamp"):
            return None
        pods = self._observe(sts)
        self._ensure_claims(sts)
        step = next_step(sts, pods)
        for ordinal in step.ordinals:
            if step.action == "create":
                self._create_pod(sts, ordinal)
            else:
                self._delete_pod(sts, pods[ordinal])
        if step.action == "delete":
            self._delete_scaled_claims(sts)
        self._write_status(sts)
        return None

    def _observe(self, sts: Obj) -> dict[int, Obj]:
        store, pods = self.ctx.store, {}
        for key in store.dependents(uid_of(sts)):
            pod = store.get_key(key) if key[0] == PODS.resource else None
            ordinal = ordinal_of(sts, pod) if pod else None
            if pod is not None and ordinal is not None:
                pods[ordinal] = pod
        return pods

    def _ensure_claims(self, sts: Obj) -> None:
        namespace = meta(sts)["namespace"]
        for ordinal in range(int(spec_of(sts).get("replicas", 1))):
            for template in claim_templates(sts):
                if self.ctx.store.get(PVCS, namespace, claim_name(template, sts, ordinal)) is None:
                    try:
                        claim = self.ctx.store.create(PVCS, new_claim(sts, template, ordinal), namespace)
                    except errors.ApiError as exc:
                        # The pod waits for its claims.
                        what = f"Claim {claim_name(template, sts, ordinal)} for Pod {pod_name(sts, ordinal)}"
                        self._refused(sts, what, exc)
                        raise
                    self.ctx.events.normal(
                        sts,
                        "SuccessfulCreate",
                        f"create Claim {name_of(claim)} Pod "
                        f"{pod_name(sts, ordinal)} in StatefulSet {name_of(sts)} success",
                        COMPONENT,
                    )

    def _create_pod(self, sts: Obj, ordinal: int) -> None:
        namespace, name = meta(sts)["namespace"], pod_name(sts, ordinal)
        existing = self.ctx.store.get(PODS, namespace, name)
        if existing is not None:
            self._adopt(sts, existing)
            return
        try:
            self.ctx.store.create(PODS, new_pod(sts, ordinal), namespace, owned=True)
        except errors.ApiError as exc:
            self._refused(sts, f"Pod {name}", exc)
            raise
        self.ctx.events.normal(
            sts, "SuccessfulCreate", f"create Pod {name} in StatefulSet {name_of(sts)} successful", COMPONENT
        )

    def _refused(self, sts: Obj, what: str, exc: errors.ApiError) -> None:
        """kube's ``recordPodEvent``/``recordClaimEvent`` on a refused create: a Warning quoting the API server's words
        (without the simulator's mark). The caller raises, so the controller tries again, backing off (``_retry``)."""
        why = exc.message.removesuffix(errors.SUFFIX)
        message = f"create {what} in StatefulSet {name_of(sts)} failed error: {why}"
        self.ctx.events.warning(sts, "FailedCreate", message, COMPONENT)

    def _adopt(self, sts: Obj, pod: Obj) -> None:
        """An orphan with the right name and labels is adopted, like kube's ControllerRefManager."""
        selector = from_label_selector_object(spec_of(sts).get("selector"))
        if meta(pod).get("ownerReferences") or not selector.matches_object(pod):
            return
        self.ctx.store.mutate(
            PODS,
            meta(pod)["namespace"],
            name_of(pod),
            lambda obj: obj["metadata"].update(ownerReferences=[owner_reference(sts)]),
        )

    def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        try:
            self.ctx.store.delete(PODS, meta(pod)["namespace"], name_of(pod))
        except errors.ApiError:
            return
        self.ctx.events.normal(
            sts, "SuccessfulDelete", f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful", COMPONENT
        )

    def _delete_scaled_claims(self, sts: Obj) -> None:
        policy = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenScaled") != "Delete":
            return
        namespace, replicas = meta(sts)["namespace"], int(spec_of(sts).get("replicas", 1))
        for claim in self.ctx.store.list(PVCS, namespace):
            for template in claim_templates(sts):
                prefix = f"{meta(template)['name']}-{name_of(sts)}-"
                suffix = name_of(claim)[len(prefix) :]
                if (
                    name_of(claim).startswith(prefix)
                    and suffix.isdigit()
                    and int(suffix) >= replicas
                    and self.ctx.store.get(PODS, namespace, pod_name(sts, int(suffix))) is None
                ):
                    self.ctx.store.delete(PVCS, namespace, name_of(claim))

    def _write_status(self, sts: Obj) -> None:
        status = status_for(sts, self._observe(sts))
        if status == sts.get("status"):
            return
        self.ctx.store.mutate(
            STATEFULSETS,
            meta(sts)["namespace"],
            name_of(sts),
            lambda obj: obj.update(status=status),
            subresource="status",
        )


def _matters(old: Obj, new: Obj) -> bool:
    """A pod change the StatefulSet controller acts on: readiness, labels (revision), owners, deletion."""
    old_meta, new_meta = meta(old), meta(new)
    return (
        is_ready(old) != is_ready(new)
        or old_meta.get("labels") != new_meta.get("labels")
        or old_meta.get("ownerReferences") != new_meta.get("ownerReferences")
        or old_meta.get("deletionTimestamp") != new_meta.get("deletionTimestamp")
    )
