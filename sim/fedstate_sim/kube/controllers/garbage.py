"""Garbage collection: when an owner is deleted, its dependents (by ``metadata.ownerReferences[].uid``)
go too unless another owner still exists; when a namespace is deleted, everything in it goes.

``propagationPolicy=Foreground``: the store holds the owner with the ``foregroundDeletion`` finalizer;
here its dependents are deleted, and once none with ``blockOwnerDeletion`` is left the finalizer is
removed and the owner goes. ``Orphan`` is handled by the store, which strips the owner references
before the owner disappears.
"""

from __future__ import annotations

from collections.abc import Hashable

from fedstate_sim.kube import errors
from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.history import DELETED, Change
from fedstate_sim.kube.meta import Obj, meta, owner_uids, uid_of
from fedstate_sim.kube.resources import NAMESPACES
from fedstate_sim.kube.store import ANY, FOREGROUND_FINALIZER


class GarbageCollector(Controller):
    name = "garbage-collector"

    def register(self) -> None:
        self.ctx.store.add_listener(ANY, self._on_change)

    def _on_change(self, change: Change) -> None:
        if change.type != DELETED:
            if FOREGROUND_FINALIZER in (meta(change.obj).get("finalizers") or []):
                self.enqueue(("foreground", uid_of(change.obj)))
            return
        for owner in owner_uids(change.obj):  # a dependent gone may release an owner deleted in foreground
            self.enqueue(("foreground", owner))
        if change.resource == NAMESPACES.resource:
            self.enqueue(("namespace", change.name))
        elif self.ctx.store.dependents(uid_of(change.obj)):
            self.enqueue(("owner", uid_of(change.obj)))

    async def reconcile(self, key: Hashable) -> Result | None:
        assert isinstance(key, tuple)
        kind, value = key
        if kind == "namespace":
            self._purge_namespace(value)
        elif kind == "foreground":
            self._delete_in_foreground(value)
        else:
            self._collect_dependents(value)
        return None

    def _delete_in_foreground(self, owner_uid: str) -> None:
        store = self.ctx.store
        key = store.by_uid(owner_uid)
        owner = store.get_key(key) if key else None
        if key is None or owner is None or FOREGROUND_FINALIZER not in (meta(owner).get("finalizers") or []):
            return
        blocking = False
        for dependent_key in store.dependents(owner_uid):
            dependent = store.get_key(dependent_key)
            if dependent is not None and not meta(dependent).get("deletionTimestamp"):
                self._delete(dependent, "Foreground")
            left = store.get_key(dependent_key)
            blocking = blocking or (left is not None and _blocks(left, owner_uid))
        rtype = store.registry.by_kind(owner["apiVersion"], owner["kind"])
        if not blocking and rtype is not None:
            store.mutate(rtype, key[1], key[2], _release_foreground)

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

    def _delete(self, obj: Obj, propagation: str = "Background") -> None:
        store = self.ctx.store
        rtype = store.registry.by_kind(obj["apiVersion"], obj["kind"])
        if rtype is None:
            return
        try:
            store.delete(rtype, meta(obj).get("namespace") or "", meta(obj)["name"], propagation)
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


def _blocks(dependent: Obj, owner_uid: str) -> bool:
    return any(
        ref.get("uid") == owner_uid and ref.get("blockOwnerDeletion")
        for ref in meta(dependent).get("ownerReferences") or []
    )


def _release_foreground(obj: Obj) -> None:
    obj["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or [] if f != FOREGROUND_FINALIZER]
