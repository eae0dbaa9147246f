"""Garbage collection with background semantics: when an owner is deleted, its dependents
(by ``metadata.ownerReferences[].uid``) go too unless another owner still exists; when a
namespace is deleted, everything in it goes. ``propagationPolicy=Orphan`` is handled by the
store, which strips the owner references before the owner disappears.
"""

from __future__ import annotations

from collections.abc import Hashable

from fedstate_sim.kube import errors
from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.history import DELETED, Change
from fedstate_sim.kube.meta import Obj, meta, owner_uids, uid_of
from fedstate_sim.kube.resources import NAMESPACES
from fedstate_sim.kube.store import ANY


class GarbageCollector(Controller):
    name = "garbage-collector"

    def register(self) -> None:
        self.ctx.store.add_listener(ANY, self._on_change)

    def _on_change(self, change: Change) -> None:
        if change.type != DELETED:
            return
        if change.resource == NAMESPACES.resource:
            self.enqueue(("namespace", change.name))
        elif self.ctx.store.dependents(uid_of(change.obj)):
            self.enqueue(("owner", uid_of(change.obj)))

    async def reconcile(self, key: Hashable) -> Result | None:
        assert isinstance(key, tuple)
        kind, value = key
        if kind == "namespace":
            self._purge_namespace(value)
        else:
            self._collect_dependents(value)
        return None

    def _collect_dependents(self, owner_uid: str) -> None:
        store = self.ctx.store
        for key in store.dependents(owner_uid):
            dependent = store.get_key(key)
            if dependent is None:
                continue
            rtype = store.registry.by_kind(dependent["apiVersion"], dependent["kind"])
            if rtype is None:
                continue
            if any(store.by_uid(uid) for uid in owner_uids(dependent) if uid != owner_uid):
                store.mutate(rtype, key[1], key[2], lambda obj: _drop_owner(obj, owner_uid))
            else:
                self._delete(dependent)
        store.forget_dependents(owner_uid)

    def _delete(self, obj: Obj) -> None:
        store = self.ctx.store
        rtype = store.registry.by_kind(obj["apiVersion"], obj["kind"])
        if rtype is None:
            return
        try:
            store.delete(rtype, meta(obj).get("namespace") or "", meta(obj)["name"])
        except errors.ApiError:
            pass  # already gone

    def _purge_namespace(self, namespace: str) -> None:
        store = self.ctx.store
        seen: set[str] = set()
        for rtype in store.registry.all():
            if not rtype.namespaced or rtype.resource in seen:
                continue
            seen.add(rtype.resource)
            for obj in store.list(rtype, namespace):
                self._delete(obj)


def _drop_owner(obj: Obj, owner_uid: str) -> None:
    refs = [ref for ref in obj["metadata"].get("ownerReferences") or [] if ref.get("uid") != owner_uid]
    obj["metadata"]["ownerReferences"] = refs
