"""The scheduler: binds Pending pods to nodes. Pods whose claims are not Bound wait; pods that fit
nowhere get ``PodScheduled=False/Unschedulable`` and a FailedScheduling event, and are retried
whenever pods, nodes or claims change. Work is proportional to the pending pods, zero when idle.
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal

from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.controllers.scheduling import NodeInfo, Verdict, choose_node, pod_requests
from fedstate_sim.kube.history import DELETED, Change
from fedstate_sim.kube.meta import Obj, condition, meta, name_of, set_condition, spec_of, status_of
from fedstate_sim.kube.pods import claims_of
from fedstate_sim.kube.resources import NODES, PODS, PVCS

COMPONENT = "default-scheduler"
ROUND = "round"
_TERMINAL = ("Succeeded", "Failed")


class Scheduler(Controller):
    name = COMPONENT

    def register(self) -> None:
        self._unbound: set[tuple[str, str]] = set()
        # (namespace, pod) → (its spec object, its requests): a pod's spec is replaced, never changed
        # in place, and status writes keep it, so the node snapshot does not re-add every pod's
        # requests each round.
        self._requests: dict[tuple[str, str], tuple[Obj, dict[str, Decimal]]] = {}
        self.ctx.store.add_listener(PODS.resource, self._on_pod)
        self.ctx.store.add_listener(NODES.resource, self._on_other)
        self.ctx.store.add_listener(PVCS.resource, self._on_other)

    def _on_pod(self, change: Change) -> None:
        key = (change.namespace, change.name)
        if change.type != DELETED and _needs_node(change.obj):
            self._unbound.add(key)
        else:
            self._unbound.discard(key)
        if change.type == DELETED:
            self._requests.pop(key, None)
        self._on_other(change)

    def _on_other(self, change: Change) -> None:
        if self._unbound:
            self.enqueue(ROUND)

    async def reconcile(self, key: Hashable) -> Result | None:
        nodes: list[NodeInfo] | None = None  # taken when a pod first gets past its volumes
        for namespace, name in sorted(self._unbound):
            pod = self.ctx.store.get(PODS, namespace, name)
            if pod is None or not _needs_node(pod):
                self._unbound.discard((namespace, name))
                continue
            verdict = self._volumes_verdict(pod)
            if verdict is None:
                nodes = self._snapshot() if nodes is None else nodes
                verdict = choose_node(pod, nodes)
            if verdict.node:
                self._bind(pod, verdict.node)
            else:
                self._mark_unschedulable(pod, verdict.message)
        return None

    def _snapshot(self) -> list[NodeInfo]:
        infos = {name_of(node): NodeInfo.of(node) for node in self.ctx.store.list(NODES)}
        for pod in self.ctx.store.list(PODS):
            info = infos.get(spec_of(pod).get("nodeName", ""))
            if info is not None and status_of(pod).get("phase") not in _TERMINAL:
                info.add(self._pod_requests(pod))
        return list(infos.values())

    def _pod_requests(self, pod: Obj) -> dict[str, Decimal]:
        key, spec = (meta(pod).get("namespace") or "", name_of(pod)), spec_of(pod)
        cached = self._requests.get(key)
        if cached is not None and cached[0] is spec:
            return cached[1]
        requests = pod_requests(pod)
        self._requests[key] = (spec, requests)
        return requests

    def _volumes_verdict(self, pod: Obj) -> Verdict | None:
        """VolumeBinding: every claim must exist and be Bound before a node is chosen."""
        for claim in claims_of(pod):
            pvc = self.ctx.store.get(PVCS, meta(pod)["namespace"], claim)
            if pvc is None:
                total = len(self.ctx.store.list(NODES))
                return Verdict(None, f'0/{total} nodes are available: persistentvolumeclaim "{claim}" not found.')
            if meta(pvc).get("deletionTimestamp"):
                total = len(self.ctx.store.list(NODES))
                return Verdict(
                    None, f'0/{total} nodes are available: persistentvolumeclaim "{claim}" is being deleted.'
                )
            if status_of(pvc).get("phase") != "Bound":
                total = len(self.ctx.store.list(NODES))
                return Verdict(
                    None, f"0/{total} nodes are available: pod has unbound immediate PersistentVolumeClaims."
                )
        return None

    def _bind(self, pod: Obj, node: str) -> None:
        namespace, name = meta(pod)["namespace"], name_of(pod)
        self.ctx.store.mutate(PODS, namespace, name, lambda obj: obj["spec"].update(nodeName=node), "binding")
        scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": self.ctx.store.clock.timestamp()}
        self.ctx.store.mutate(PODS, namespace, name, lambda obj: set_condition(obj, scheduled), "status")
        self._unbound.discard((namespace, name))
        self.ctx.events.normal(pod, "Scheduled", f"Successfully assigned {namespace}/{name} to {node}", COMPONENT)

    def _mark_unschedulable(self, pod: Obj, message: str) -> None:
        previous = condition(pod, "PodScheduled") or {}
        if previous.get("reason") == "Unschedulable" and previous.get("message") == message:
            return
        unschedulable = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastTransitionTime": self.ctx.store.clock.timestamp(),
        }
        self.ctx.store.mutate(
            PODS, meta(pod)["namespace"], name_of(pod), lambda obj: set_condition(obj, unschedulable), "status"
        )
        self.ctx.events.warning(pod, "FailedScheduling", message, COMPONENT)


def _needs_node(pod: Obj) -> bool:
    return (
        not spec_of(pod).get("nodeName")
        and status_of(pod).get("phase", "Pending") == "Pending"
        and not meta(pod).get("deletionTimestamp")
    )
