"""Apply, read and delete this agent's Kubernetes objects through the official client.

Reads come from informers (one list-then-watch per kind, of the objects labelled as ours), so a
reconcile pass lists nothing. Objects are written with server-side apply under the field manager
``fedstate-agent``, and only when what we would write differs from what we last wrote: the hash of
the rendered object rides on it as an annotation; an object we just created is not created again by a pass
that runs before its informer tells of it (``_created_unseen``, controller-runtime's expectations). A field
someone else changed behind our back is put back at the next pass: the informer tells of the change, and a
change of an object whose informer had already shown our last write, still carrying its hash, is not ours
(``_note_foreign``). As a safety net, an object is applied again all the same ``REAPPLY_SECONDS`` after our last
write (and when the agent restarts).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Collection, Hashable
from typing import Any

from kubernetes.aio import client
from kubernetes.aio.client import AppsV1Api, CoreV1Api
from kubernetes.aio.client.exceptions import ApiException

from fedstate.informer import Informer, KubeDict, object_key
from fedstate.kube import apply_raw, list_raw

from .manifests import FIELD_MANAGER, INSTANCE_LABEL, KIND_LABEL, MANAGED_BY, MEMBER_LABEL

SINGLE_CLUSTER_KIND = "MongoDB"

# The API path of each kind the agent applies, in a namespace.
_COLLECTIONS = {
    "Secret": "/api/v1/namespaces/{namespace}/secrets",
    "ConfigMap": "/api/v1/namespaces/{namespace}/configmaps",
    "Service": "/api/v1/namespaces/{namespace}/services",
    "StatefulSet": "/apis/apps/v1/namespaces/{namespace}/statefulsets",
}
APPLIED_ANNOTATION = "fedstate.io/applied"
# Drift repair's safety net: an object unchanged on our side is applied again after this long all the same. Drift
# itself is found when it happens (the informers); this only bounds a change that came without an event.
REAPPLY_SECONDS = 3600.0
# The longest an object we created may stay unseen by its informer before a pass creates it again (a watch that
# broke and listed again after the object was created and deleted tells of neither).
ECHO_SECONDS = 30.0
OURS = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())
# Why a StatefulSet's controller could not create a member's pod or claim (a ResourceQuota, an admission webhook,
# PodSecurity): Kubernetes tells it only as a Warning event on the StatefulSet, which has no condition for it.
# Events carry no labels, so the watch is by fields; in steady state it tells of nothing.
REFUSED_CREATES = "involvedObject.kind=StatefulSet,reason=FailedCreate"


def instance_of(obj: KubeDict) -> tuple[str, str] | None:
    """(namespace, instance) of one of our objects, from its instance label."""
    meta = obj.get("metadata") or {}
    instance = (meta.get("labels") or {}).get(INSTANCE_LABEL)
    return (meta.get("namespace", ""), instance) if instance else None


def of_single_cluster_mongodb(obj: KubeDict) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(KIND_LABEL) == SINGLE_CLUSTER_KIND.lower()


def _involved(event: KubeDict) -> tuple[str, str]:
    involved = event.get("involvedObject") or {}
    return involved.get("namespace") or "", involved.get("name") or ""


def _told_at(event: KubeDict) -> tuple[str, int]:
    """When an event last happened, to find the newest of an object's (a repeat bumps ``count`` and
    ``lastTimestamp``; events.k8s.io writers set ``eventTime`` only)."""
    return str(event.get("lastTimestamp") or event.get("eventTime") or ""), int(event.get("count") or 1)


def applied_hash(obj: dict[str, Any]) -> str:
    """What we would write, as a short digest (key order does not matter)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:20]


def _version(obj: KubeDict) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def _held(obj: KubeDict) -> str | None:
    """The hash of our write an object carries."""
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(APPLIED_ANNOTATION)


def _annotated(obj: dict[str, Any], digest: str) -> dict[str, Any]:
    meta = obj["metadata"]
    annotations = {**(meta.get("annotations") or {}), APPLIED_ANNOTATION: digest}
    return {**obj, "metadata": {**meta, "annotations": annotations}}


def without_status(obj: KubeDict) -> KubeDict:
    """What the agent acts on in one of its objects: all but its status and the API server's bookkeeping. A
    StatefulSet counting its ready replicas, a new resourceVersion: no pass would see a difference."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in ("resourceVersion", "managedFields")}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def pod_as_observed(pod: KubeDict) -> KubeDict:
    """A pod as a member is observed (``memberset._pod_observation``): all but its status, then its phase and
    each condition's type, status and message — not their probe and transition times."""
    status = pod.get("status") or {}
    conditions = [(c.get("type"), c.get("status"), c.get("message")) for c in status.get("conditions") or []]
    return {**without_status(pod), "status": {"phase": status.get("phase"), "conditions": conditions}}


# How long a pass waits for an informer's first list of the cluster (its API may be down since the agent started).
SYNC_WAIT_SECONDS = 10.0


class KubeObjects:
    def __init__(self, api: client.ApiClient, on_change: Callable[[KubeDict], None] = lambda obj: None) -> None:
        """``on_change`` is called with every one of our objects that changed (or went)."""
        self.core = CoreV1Api(api)
        self.apps = AppsV1Api(api)

        def informer(
            kind: str, group: Any, operation: str, notable: Callable[[KubeDict], object] = without_status
        ) -> Informer:
            def told(obj: KubeDict) -> None:
                self._unseen.pop((kind, *object_key(obj)), None)
                self._note_foreign(kind, obj)
                if (owner := instance_of(obj)) is not None:
                    self._changes[owner] += 1
                on_change(obj)

            index: Callable[[KubeDict], Hashable | None] = instance_of
            return Informer(group, operation, OURS, told, index_by=index, notable=notable)

        self.informers = {
            "StatefulSet": informer("StatefulSet", self.apps, "list_stateful_set_for_all_namespaces"),
            "Service": informer("Service", self.core, "list_service_for_all_namespaces"),
            "Pod": informer("Pod", self.core, "list_pod_for_all_namespaces", notable=pod_as_observed),
            "Secret": informer("Secret", self.core, "list_secret_for_all_namespaces"),
            "ConfigMap": informer("ConfigMap", self.core, "list_config_map_for_all_namespaces"),
        }

        def refusal_told(event: KubeDict) -> None:
            sts = self.informers["StatefulSet"].get(*_involved(event))
            if sts is not None and (owner := instance_of(sts)) is not None:
                self._changes[owner] += 1
                on_change(sts)

        self.refusals = Informer(
            self.core, "list_event_for_all_namespaces", "", refusal_told, _involved, field_selector=REFUSED_CREATES
        )
        # (namespace, StatefulSet) → the refusal (event uid, count) that was already current when its pod was
        # last seen: history, not why the pod is absent now (a pod deleted by a rolling restart, say)
        self._outlived: dict[tuple[str, str], tuple[str, int]] = {}
        self._namespaces: set[str] = set()
        # (kind, namespace, name) → (digest, monotonic time) of our last write, and the object it digests
        self._applied: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._digested: dict[tuple[str, str, str], tuple[KubeDict, str]] = {}
        # (kind, namespace, name) → the resourceVersion our last write left (or found, when it changed nothing)
        self._written: dict[tuple[str, str, str], str] = {}
        self._writing: set[tuple[str, str, str]] = set()  # its event may come before the write's answer
        # Objects we created that their informer has not told of yet (controller-runtime's "expectations"): a pass
        # in between finds none and would create it again (0.7 StatefulSet writes more per member of a new set).
        self._unseen: dict[tuple[str, str, str], tuple[str, float]] = {}
        # (namespace, instance) → changes its informers told: a pass that reads the same count reads the same objects
        self._changes: Counter[tuple[str, str]] = Counter()
        self.calls = 0  # requests sent to the API server (all but the informers'): a pass that sent none wrote nothing

    def changes(self, namespace: str, instance: str) -> int:
        """How many changes of the instance's objects the informers have told so far."""
        return self._changes[(namespace, instance)]

    def applied_until(self, kind: str, namespace: str, name: str) -> float:
        """When our last write of the object stops counting as recent (``REAPPLY_SECONDS``), on the monotonic
        clock; 0 when this process never wrote it."""
        applied = self._applied.get((kind, namespace, name))
        return applied[1] + REAPPLY_SECONDS if applied is not None else 0.0

    def _note_foreign(self, kind: str, obj: KubeDict) -> None:
        """Told a change of one of our objects (what its informer's predicate notices): one that carries our last
        write's hash at another resourceVersion than that write left is someone else's, so the next pass applies
        the object again instead of waiting for ``REAPPLY_SECONDS``."""
        key = (kind, *object_key(obj))
        applied = self._applied.get(key)
        if applied is None or _held(obj) != applied[0] or key in self._writing:
            return  # not written by us in this process, not our last write, or told while we write it
        if _version(obj) == self._written.get(key):
            return  # our write arriving
        self._applied[key] = (applied[0], -REAPPLY_SECONDS)  # no longer recently applied

    async def follow(self) -> None:
        """Keep every informer current, for the life of the agent."""
        await asyncio.gather(*(informer.run() for informer in (*self.informers.values(), self.refusals)))

    def create_refused(self, sts: KubeDict | None, pod_present: bool) -> str:
        """Why ``sts``'s controller did not create its pod (or the pod's claim), in the words of its newest
        ``FailedCreate`` event (``create Pod db-m0-0 in StatefulSet db-m0 failed error: pods "db-m0-0" is forbidden:
        exceeded quota: ...``), while the pod is not there; "" when nothing was refused since the pod was last
        seen, or the event is of an earlier StatefulSet of that name."""
        if sts is None:
            return ""
        key = object_key(sts)
        uid = (sts.get("metadata") or {}).get("uid")
        told = [e for e in self.refusals.indexed(key) if (e.get("involvedObject") or {}).get("uid") == uid]
        newest = max(told, key=_told_at, default=None)
        marker = ((newest.get("metadata") or {}).get("uid", ""), _told_at(newest)[1]) if newest else None
        if pod_present:
            if marker is not None:
                self._outlived[key] = marker
            else:
                self._outlived.pop(key, None)
            return ""
        if newest is None or self._outlived.get(key) == marker:
            return ""
        return str(newest.get("message") or "")

    async def _informer(self, kind: str) -> Informer:
        """The informer of ``kind`` once it has listed the cluster. A pass waits for that first list at most
        ``SYNC_WAIT_SECONDS``: when the API does not answer, the pass fails and is retried later, rather than
        holding a worker (and a tear-down's quick retry) for as long as the cluster is down."""
        informer = self.informers[kind]
        if not informer.synced.is_set():
            try:
                async with asyncio.timeout(SYNC_WAIT_SECONDS):
                    await informer.synced.wait()
            except TimeoutError:
                raise TimeoutError(
                    f"the {kind} informer has not listed the cluster yet: its API does not answer"
                ) from None
        return informer

    async def _cached(self, kind: str, namespace: str, instance: str, owner_kind: str | None) -> list[KubeDict]:
        """The instance's objects of one kind; with ``owner_kind``, only a single-cluster MongoDB's, or only the others."""
        found = (await self._informer(kind)).indexed((namespace, instance))
        if owner_kind is None:
            return found
        single = owner_kind == SINGLE_CLUSTER_KIND
        return [o for o in found if of_single_cluster_mongodb(o) == single]

    async def ensure_namespace(self, name: str) -> None:
        if name in self._namespaces:
            return
        self.calls += 1
        try:
            await self.core.read_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
            try:
                await self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
            except ApiException as create_exc:
                if create_exc.status != 409:
                    raise
        self._namespaces.add(name)

    async def apply(self, obj: dict[str, Any]) -> bool:
        """Server-side apply ``obj`` unless it is what we last applied, not long ago; True when written.

        What we last applied counts as well as what the informer shows: the informer lags our own
        writes, and an object written twice would tell twice what it did (a restart, say)."""
        meta = obj["metadata"]
        kind, namespace, name = obj["kind"], meta["namespace"], meta["name"]
        digest = self._digest((kind, namespace, name), obj)
        current = (await self._informer(kind)).get(namespace, name)
        if current is not None and self._recently_applied(kind, current, digest):
            return False
        if current is None and self._created_unseen((kind, namespace, name), digest):
            return False
        self.calls += 1
        self._writing.add((kind, namespace, name))
        try:
            # Of the answer (the object as stored) only the resourceVersion is kept: the informer brings the object.
            path = f"{_COLLECTIONS[kind].format(namespace=namespace)}/{name}"
            stored = await apply_raw(self.core.api_client, path, _annotated(obj, digest), FIELD_MANAGER)
        except ApiException as exc:
            if exc.status == 404:
                self._namespaces.discard(namespace)  # deleted under us: ensured again next pass
            raise
        finally:
            self._writing.discard((kind, namespace, name))
        self._applied[(kind, namespace, name)] = (digest, time.monotonic())
        self._written[(kind, namespace, name)] = _version(stored or {})
        if current is None and self.informers[kind].get(namespace, name) is None:  # its event may have come already
            self._unseen[(kind, namespace, name)] = (digest, time.monotonic())
        return True

    def _created_unseen(self, key: tuple[str, str, str], digest: str) -> bool:
        """Did we create this object, as ``digest``, so recently that its informer may not have told of it yet? Any
        event of it ends that (a deletion too: the next pass creates it again), and so does ``ECHO_SECONDS``."""
        unseen = self._unseen.get(key)
        if unseen is None or unseen[0] != digest:
            return False
        if time.monotonic() - unseen[1] < ECHO_SECONDS:
            return True
        del self._unseen[key]
        return False

    def _digest(self, key: tuple[str, str, str], obj: KubeDict) -> str:
        """``applied_hash(obj)``, not computed again for an object equal to the one it was last computed for
        (a pass renders every object again; comparing is cheaper than serializing and hashing)."""
        known = self._digested.get(key)
        if known is not None and known[0] == obj:
            return known[1]
        digest = applied_hash(obj)
        self._digested[key] = (obj, digest)
        return digest

    def _recently_applied(self, kind: str, current: KubeDict, digest: str) -> bool:
        namespace, name = object_key(current)
        last_digest, applied_at = self._applied.get((kind, namespace, name), ("", -REAPPLY_SECONDS))
        return digest in (_held(current), last_digest) and time.monotonic() - applied_at < REAPPLY_SECONDS

    async def services(self, namespace: str, instance: str, kind: str | None = None) -> list[dict[str, Any]]:
        return await self._cached("Service", namespace, instance, kind)

    async def pods(self, namespace: str, instance: str) -> list[dict[str, Any]]:
        return await self._cached("Pod", namespace, instance, None)

    async def statefulsets(self, namespace: str, instance: str, kind: str | None = None) -> list[dict[str, Any]]:
        return await self._cached("StatefulSet", namespace, instance, kind)

    async def claims(self, namespace: str, instance: str) -> list[dict[str, Any]]:
        self.calls += 1
        return await list_raw(
            self.core, "list_namespaced_persistent_volume_claim", namespace, label_selector=_selector(instance)
        )

    async def kept_claims(self, namespace: str, instance: str, members: Collection[str] | None = None) -> list[str]:
        """The names of the instance's claims that stay (none being deleted); with ``members`` (``m<i>``), only
        those members'."""
        return sorted(
            claim["metadata"]["name"]
            for claim in await self.claims(namespace, instance)
            if not claim["metadata"].get("deletionTimestamp")
            and (members is None or (claim["metadata"].get("labels") or {}).get(MEMBER_LABEL) in members)
        )

    async def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """One of our Secrets' decoded data, or None when there is no such Secret."""
        found = (await self._informer("Secret")).get(namespace, name)
        if found is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (found.get("data") or {}).items()}

    async def config_map_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """Any ConfigMap's data (a user's ``customConfigRef`` is not ours, so not in the informer)."""
        self.calls += 1
        found = await list_raw(
            self.core, "list_namespaced_config_map", namespace, field_selector=f"metadata.name={name}"
        )
        return dict(found[0].get("data") or {}) if found else None

    async def delete_member(self, namespace: str, name: str) -> None:
        self.calls += 1
        await _ignore_missing(self.apps.delete_namespaced_stateful_set(name, namespace))
        await _ignore_missing(self.core.delete_namespaced_service(name, namespace))
        self._forget(("StatefulSet", namespace, name), ("Service", namespace, name))

    def _forget(self, *keys: tuple[str, str, str]) -> None:
        """What we wrote of objects now deleted: nothing to remember of them."""
        for key in keys:
            self._applied.pop(key, None)
            self._digested.pop(key, None)
            self._written.pop(key, None)
            self._unseen.pop(key, None)
            self._outlived.pop(key[1:], None)

    async def delete_instance(self, namespace: str, instance: str, kind: str) -> int:
        """Delete every object of the instance; PVCs follow each StatefulSet's retention policy. Returns how
        many objects were still there."""
        self.calls += 1
        found = 0
        for sts in await self.statefulsets(namespace, instance, kind):
            found += 1
            await self.delete_member(namespace, sts["metadata"]["name"])
        for svc in await self.services(namespace, instance, kind):
            found += 1
            await _ignore_missing(self.core.delete_namespaced_service(svc["metadata"]["name"], namespace))
        for other, deleter in (
            ("Secret", self.core.delete_namespaced_secret),
            ("ConfigMap", self.core.delete_namespaced_config_map),
        ):
            for item in await self._cached(other, namespace, instance, kind):
                found += 1
                await _ignore_missing(deleter(item["metadata"]["name"], namespace))
                self._forget((other, namespace, item["metadata"]["name"]))
        # Its pods terminate for a while after their StatefulSets go (a primary hands over, mongod shuts down): the
        # instance is gone once they are, so a new one of the same name never meets a member of the old.
        found += len(await self.pods(namespace, instance))  # (pods carry no kind label: names are not shared)
        # Claims the retention policy deletes stay, Terminating, until no pod mounts them (pvc-protection): the
        # instance is gone once its volumes are, not while a member still holds one.
        found += sum(
            1 for claim in await self.claims(namespace, instance) if claim["metadata"].get("deletionTimestamp")
        )
        return found


def _selector(instance: str, kind: str | None = None) -> str:
    """Objects of one instance; with ``kind``, only those of a single-cluster MongoDB, or only the others."""
    if kind is None:
        return f"{INSTANCE_LABEL}={instance}"
    operator = "=" if kind == SINGLE_CLUSTER_KIND else "!="
    return f"{INSTANCE_LABEL}={instance},{KIND_LABEL}{operator}{SINGLE_CLUSTER_KIND.lower()}"


async def _ignore_missing(call: Any) -> None:
    try:
        await call
    except ApiException as exc:
        if exc.status != 404:
            raise


def api_error_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except (TypeError, ValueError):
        return str(exc.reason)
