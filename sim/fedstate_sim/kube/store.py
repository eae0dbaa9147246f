"""The object store of one simulated cluster: etcd plus the generic registry logic of kube-apiserver.

All methods are synchronous, so under asyncio each write is atomic. A write stamps
server-owned metadata, runs the admission hooks of its resource, takes the next
resourceVersion, appends a ``Change`` to the event log and hands it to watchers and
listeners (controllers, which only enqueue keys).
"""

from __future__ import annotations

import builtins
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from functools import partial

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission, finish_update, prepare_create, prepare_update
from fedstate_sim.kube.history import ADDED, DELETED, MODIFIED, Change, EventLog, Watcher
from fedstate_sim.kube.meta import Clock, Obj, clone, meta, name_of, namespace_of, owner_uids, uid_of
from fedstate_sim.kube.resources import NAMESPACES, Registry, ResourceType
from fedstate_sim.kube.selectors import FieldSelector, LabelSelector

log = logging.getLogger(__name__)
Listener = Callable[[Change], None]
Key = tuple[str, str, str]  # resource, namespace, name
ANY = "*"  # listener registration for every resource
FOREGROUND_FINALIZER = "foregroundDeletion"


class ObjectStore:
    def __init__(self, registry: Registry, history: int, clock: Clock | None = None) -> None:
        self.registry = registry
        self.clock = clock or Clock()
        self.log = EventLog(history)
        self._rv = 0
        self._objects: dict[str, dict[str, dict[str, Obj]]] = defaultdict(lambda: defaultdict(dict))
        self._by_uid: dict[str, Key] = {}
        self._dependents: dict[str, set[Key]] = defaultdict(set)
        self._watchers: dict[str, set[Watcher]] = defaultdict(set)
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._admission: dict[str, list[Admission]] = defaultdict(list)

    # ---- wiring ---------------------------------------------------------------------------
    def add_listener(self, resource: str, listener: Listener) -> None:
        self._listeners[resource].append(listener)

    def add_admission(self, resource: str, hook: Admission) -> None:
        self._admission[resource].append(hook)

    @property
    def resource_version(self) -> int:
        return self._rv

    # ---- reads ----------------------------------------------------------------------------
    def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj | None:
        return self._objects[rtype.resource][self._ns(rtype, namespace)].get(name)

    def require(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.get(rtype, namespace, name)
        if obj is None:
            raise errors.not_found(rtype.resource, name)
        return obj

    def list(
        self,
        rtype: ResourceType,
        namespace: str | None = None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
    ) -> list[Obj]:
        matched = [
            obj
            for obj in self._scan(rtype, namespace)
            if (labels is None or labels.matches_object(obj)) and (fields is None or fields.matches(obj))
        ]
        return matched

    def list_at(
        self,
        rtype: ResourceType,
        version: int,
        namespace: str | None = None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
    ) -> builtins.list[Obj]:
        """The objects as they were at resourceVersion ``version`` (``resourceVersionMatch=Exact``): today's,
        with the later changes undone; 410 Expired before the kept history, 504 after today."""
        if version > self._rv:
            raise errors.too_large(version, self._rv)
        try:
            later = self.log.since(version, rtype.resource)
        except errors.ApiError as exc:
            raise errors.ApiError(410, "Expired", "The resourceVersion for the provided list is too old.") from exc
        objects = {(namespace_of(o), name_of(o)): o for o in self._scan(rtype, None)}
        for change in reversed(later):
            if change.type == ADDED:
                objects.pop((change.namespace, change.name), None)
            else:
                objects[(change.namespace, change.name)] = (
                    change.old if change.type == MODIFIED else None
                ) or change.obj
        return [
            obj
            for (ns, _), obj in sorted(objects.items())
            if (namespace is None or ns == self._ns(rtype, namespace))
            and (labels is None or labels.matches_object(obj))
            and (fields is None or fields.matches(obj))
        ]

    def _scan(self, rtype: ResourceType, namespace: str | None) -> Iterator[Obj]:
        by_ns = self._objects[rtype.resource]
        spaces = [self._ns(rtype, namespace)] if namespace is not None or not rtype.namespaced else sorted(by_ns)
        for ns in spaces:
            if ns in by_ns:
                yield from (by_ns[ns][name] for name in sorted(by_ns[ns]))

    def by_uid(self, uid: str) -> Key | None:
        return self._by_uid.get(uid)

    def dependents(self, owner_uid: str) -> builtins.list[Key]:
        return sorted(self._dependents.get(owner_uid, ()))

    def get_key(self, key: Key) -> Obj | None:
        resource, namespace, name = key
        return self._objects[resource][namespace].get(name)

    @staticmethod
    def _ns(rtype: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rtype.namespaced else ""

    # ---- writes ---------------------------------------------------------------------------
    def create(self, rtype: ResourceType, body: Obj, namespace: str | None = None, owned: bool = False) -> Obj:
        """``owned``: the caller hands over ``body``, which shares nothing (no defensive copy)."""
        ns = self._ns(rtype, namespace if namespace is not None else meta(body).get("namespace"))
        self._require_namespace(rtype, ns)
        obj = prepare_create(rtype, body, ns, self.clock, lambda n: self.get(rtype, ns, n) is not None, owned)
        for hook in self._admission[rtype.resource]:
            hook.on_create(rtype, obj)
        return self._commit(ADDED, rtype, obj, None)

    def update(self, rtype: ResourceType, body: Obj, subresource: str | None = None, owned: bool = False) -> Obj:
        """Write the next version; ``owned`` means the caller hands over ``body`` (no defensive copy).

        ``subresource``: ``status`` changes only the status; ``binding`` (the scheduler's) sets a Pod's node,
        which no update may do. Neither runs the kind's admission rules, as in kube-apiserver."""
        metadata = meta(body)
        current = self.require(rtype, metadata.get("namespace") or "", metadata.get("name", ""))
        new = prepare_update(rtype, current, body, subresource, owned)
        for hook in self._admission[rtype.resource]:
            if subresource is None:
                hook.on_update(rtype, current, new)
            elif subresource == "status":
                hook.on_update_status(rtype, current, new)
        if not finish_update(rtype, current, new):
            return current
        if meta(new).get("deletionTimestamp") and not meta(new).get("finalizers") and not _in_grace_period(new):
            return self._remove(rtype, new, "Background")
        return self._commit(MODIFIED, rtype, new, current)

    def mutate(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        change: Callable[[Obj], None],
        subresource: str | None = None,
    ) -> Obj | None:
        """Controller helper: apply ``change`` to a copy of the live object and write it if it differs."""
        current = self.get(rtype, namespace, name)
        if current is None:
            return None
        new = clone(current) if subresource != "status" else {**current, "status": clone(current.get("status") or {})}
        change(new)
        return self.update(rtype, new, subresource, owned=True)

    def delete(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        propagation: str = "Background",
        grace_seconds: int | None = None,
    ) -> Obj:
        """Remove the object, or mark it deleting while finalizers hold it: its own, those the API server
        adds (a CRD's cleanup), and ``foregroundDeletion`` while a Foreground delete waits for dependents.

        A kind with graceful deletion (a running pod) is only marked terminating, for ``grace_seconds`` or its
        own period; whoever runs it (the kubelet) deletes it again with 0 once it has stopped."""
        current = self.require(rtype, namespace, name)
        grace = max(
            (h.grace_on_delete(rtype, current, grace_seconds) for h in self._admission[rtype.resource]), default=0
        )
        if grace > 0:
            return self._terminate(rtype, current, grace)
        held = [f for hook in self._admission[rtype.resource] for f in hook.finalizers_on_delete(rtype, current)]
        if propagation == "Foreground" and self.dependents(uid_of(current)):
            held.append(FOREGROUND_FINALIZER)
        if meta(current).get("finalizers") or held:
            return self._mark_deleting(rtype, current, held)
        return self._remove(rtype, current, propagation)

    def _terminate(self, rtype: ResourceType, current: Obj, grace: int) -> Obj:
        """``deletionTimestamp`` is when the grace period ends; a later delete may shorten it, never lengthen it."""
        period = meta(current).get("deletionGracePeriodSeconds")
        if meta(current).get("deletionTimestamp") and period is not None and period <= grace:
            return current
        new = clone(current)
        new["metadata"]["deletionTimestamp"] = self.clock.timestamp_in(grace)
        new["metadata"]["deletionGracePeriodSeconds"] = grace
        return self._commit(MODIFIED, rtype, new, current)

    def _mark_deleting(self, rtype: ResourceType, current: Obj, held: builtins.list[str]) -> Obj:
        finalizers = list(meta(current).get("finalizers") or [])
        added = [f for f in held if f not in finalizers]
        if meta(current).get("deletionTimestamp") and not added and not _in_grace_period(current):
            return current
        new = clone(current)
        new["metadata"].setdefault("deletionTimestamp", self.clock.timestamp())
        new["metadata"]["deletionGracePeriodSeconds"] = 0  # a graceful termination, if any, is over
        new["metadata"]["finalizers"] = finalizers + added
        return self._commit(MODIFIED, rtype, new, current)

    def _remove(self, rtype: ResourceType, current: Obj, propagation: str) -> Obj:
        for hook in self._admission[rtype.resource]:
            hook.on_delete(rtype, current)
        if propagation == "Orphan":
            self._orphan_dependents(uid_of(current))
        return self._commit(DELETED, rtype, clone(current), current)

    def _orphan_dependents(self, owner_uid: str) -> None:
        for key in self.dependents(owner_uid):
            dependent = self.get_key(key)
            rtype = self._rtype_of(dependent)
            if dependent is None or rtype is None:
                continue
            refs = [r for r in meta(dependent).get("ownerReferences") or [] if r.get("uid") != owner_uid]
            self.mutate(rtype, key[1], key[2], partial(_set_owner_refs, refs=refs))

    def _rtype_of(self, obj: Obj | None) -> ResourceType | None:
        if obj is None:
            return None
        return self.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))

    def _require_namespace(self, rtype: ResourceType, namespace: str) -> None:
        if not rtype.namespaced:
            return
        ns = self.get(NAMESPACES, "", namespace)
        if ns is None:
            raise errors.namespace_missing(namespace)
        if meta(ns).get("deletionTimestamp"):
            raise errors.ApiError(403, "Forbidden", f'namespace "{namespace}" is being terminated')

    # ---- commit ---------------------------------------------------------------------------
    def _commit(self, type_: str, rtype: ResourceType, obj: Obj, old: Obj | None) -> Obj:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._index(type_, rtype, obj, old)
        change = Change(self._rv, type_, rtype.resource, obj, old)
        self.log.append(change)
        for watcher in list(self._watchers[rtype.resource]):
            watcher.offer(change)
        for listener in self._listeners[rtype.resource] + self._listeners[ANY]:
            try:
                listener(change)
            except Exception:
                log.exception("fedstate simulator: listener failed on %s %s", type_, rtype.resource)
        return obj

    def _index(self, type_: str, rtype: ResourceType, obj: Obj, old: Obj | None) -> None:
        metadata, uid = obj["metadata"], uid_of(obj)
        key = (rtype.resource, metadata.get("namespace") or "", metadata["name"])
        for owner in owner_uids(old or {}):
            self._dependents[owner].discard(key)
        if type_ == DELETED:
            del self._objects[key[0]][key[1]][key[2]]
            self._by_uid.pop(uid, None)
            return
        self._objects[key[0]][key[1]][key[2]] = obj
        self._by_uid[uid] = key
        for owner in owner_uids(obj):
            self._dependents[owner].add(key)

    def forget_dependents(self, owner_uid: str) -> None:
        self._dependents.pop(owner_uid, None)

    # ---- watch ----------------------------------------------------------------------------
    def watch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        since: int | None,
        labels: LabelSelector,
        fields: FieldSelector,
    ) -> Watcher:
        """Register a watcher, preloaded with the backlog: history after ``since``, or synthetic ADDED."""
        if since is not None and since > self._rv:
            raise errors.too_large(since, self._rv)
        watcher = Watcher(rtype.resource, namespace, labels, fields)
        if since is None:
            backlog = [Change(self._rv, ADDED, rtype.resource, obj, None) for obj in self._scan(rtype, namespace)]
        else:
            backlog = self.log.since(since, rtype.resource)
        for change in backlog:
            watcher.offer(change)
        self._watchers[rtype.resource].add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers[watcher.resource].discard(watcher)

    def close_watchers(self) -> None:
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.close()
            watchers.clear()


def _set_owner_refs(obj: Obj, refs: builtins.list[Obj]) -> None:
    if refs:
        obj["metadata"]["ownerReferences"] = refs
    else:
        obj["metadata"].pop("ownerReferences", None)


def _in_grace_period(obj: Obj) -> bool:
    """Terminating (a pod whose containers are stopping): it stays, finalizers or not, until deleted with grace 0."""
    return bool(meta(obj).get("deletionGracePeriodSeconds"))
