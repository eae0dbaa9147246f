"""kube-controller-manager's resource quota controller, for what admission does not see: a pod or claim gone, a pod
finished (Succeeded, Failed), or deleted and still there past its grace period, gives its share back. The
namespace's quotas are measured again (``quotas.quota_status``) and their ``status`` rewritten where it changed.

Admission charges a new object at once; the controller only lowers ``status.used`` afterwards, moments later, as
kube's replenishment does (a create refused meanwhile is refused on a real cluster too).
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial

from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.history import DELETED, MODIFIED, Change
from fedstate_sim.kube.meta import Obj, meta, name_of, status_of
from fedstate_sim.kube.quotas import FINISHED, quota_status, stops_counting_at
from fedstate_sim.kube.resources import PODS, PVCS, RESOURCEQUOTAS

COMPONENT = "resourcequota-controller"
_JUST_AFTER = 0.01  # a deleted pod stops counting once its grace period is strictly over


class QuotaController(Controller):
    name = COMPONENT

    def register(self) -> None:
        self.ctx.store.add_listener(PODS.resource, self._on_change)
        self.ctx.store.add_listener(PVCS.resource, self._on_change)

    def _on_change(self, change: Change) -> None:
        if change.type == DELETED or (change.type == MODIFIED and _counting(change.old or {}) != _counting(change.obj)):
            self.enqueue(change.namespace)

    async def reconcile(self, key: Hashable) -> Result | None:
        assert isinstance(key, str)
        store = self.ctx.store
        quotas = store.list(RESOURCEQUOTAS, key)
        if not quotas:
            return None
        now = store.clock.now()
        for quota in quotas:
            status = quota_status(store, quota, now)
            if status != quota.get("status"):
                store.mutate(RESOURCEQUOTAS, key, name_of(quota), partial(_set_status, status=status), "status")
        ends = [at for pod in store.list(PODS, key) if (at := stops_counting_at(pod)) is not None and at >= now]
        return Result(requeue_after=min(ends) - now + _JUST_AFTER) if ends else None


def _counting(obj: Obj) -> tuple[bool, str | None]:
    """What, bar the clock, decides whether an object still counts: it finished, and when it was deleted."""
    return status_of(obj).get("phase") in FINISHED, meta(obj).get("deletionTimestamp")


def _set_status(quota: Obj, status: Obj) -> None:
    quota["status"] = status
