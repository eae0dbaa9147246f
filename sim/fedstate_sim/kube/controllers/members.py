"""Starts and stops simulated mongod members through the ``MemberHost`` as pods become Ready,
Services expose them, and the cluster fails or recovers; forgets data when a PVC is deleted.
A pod whose mongod would not start (an unreadable or invalid keyFile, a missing config file)
backs no member and gets a ``MemberStartFailed`` warning event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable

from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.controllers.kubelet import remove_terminated
from fedstate_sim.kube.controllers.member_plan import Candidate, Desired, candidate, plan_members
from fedstate_sim.kube.controllers.statefulset_plan import is_ready
from fedstate_sim.kube.history import DELETED, Change
from fedstate_sim.kube.meta import Obj, meta, spec_of, uid_of
from fedstate_sim.kube.podfiles import FileReader, file_reader
from fedstate_sim.kube.resources import NAMESPACES, PODS, PVCS, SERVICES
from fedstate_sim.kube.services import EXPOSED_TYPES
from fedstate_sim.mongo.api import MemberLaunch

log = logging.getLogger(__name__)
_PORT_RETRY_SECONDS = 5.0


class MemberController(Controller):
    name = "member-controller"

    def register(self) -> None:
        self._active: dict[str, Desired] = {}
        # (namespace, pod) → (the pod object, its Candidate when it is Ready and runs mongod)
        self._candidates: dict[tuple[str, str], tuple[Obj, Candidate | None]] = {}
        self._ready: dict[str, dict[str, Candidate]] = {}  # namespace → pod name → Candidate
        self._selectors: dict[str, dict[str, dict[str, str]]] = {}  # namespace → exposed Service → selector
        # namespace → first (label, value) of a selector → the Services with that selector
        self._by_first_label: dict[str, dict[tuple[str, str], set[str]]] = {}
        # "namespace/pod" → when the pod was created (monotonic): a member's start line says how long its
        # pod took to start, the wait bench/e2e.py counts as Kubernetes', not the control plane's
        self._created_at: dict[str, float] = {}
        # pod uid → its member's address and clean shutdown
        self._stopping: dict[str, tuple[tuple[str, int], asyncio.Task[None]]] = {}
        # pod uid → when the kubelet kills its member, if the clean shutdown has not ended by then
        self._kill_at: dict[str, asyncio.Timeout] = {}
        store = self.ctx.store
        store.add_listener(PODS.resource, self._on_pod)
        store.add_listener(SERVICES.resource, self._on_service)
        store.add_listener(PVCS.resource, self._on_claim)

    # A namespace is reconciled as a whole (O(pods + services)), so only changes that can alter its
    # members wake it: a Ready mongod pod that an exposed Service selects appearing, changing or
    # going; an exposed Service's spec changing while it selects such a pod. A pod no Service
    # selects, or a Service selecting no such pod, takes no part in ``plan_members``.
    def _on_pod(self, change: Change) -> None:
        if change.type != DELETED and uid_of(change.obj) in self._kill_at:
            self._bring_kill_forward(change.obj)
        before = self._candidate(change.old) if change.old is not None else None
        if change.old is None:
            self._created_at[f"{change.namespace}/{change.name}"] = time.monotonic()
        if change.type == DELETED:
            self._forget_pod(change.namespace, change.name)
            self._created_at.pop(f"{change.namespace}/{change.name}", None)
            after = None
        else:
            after = self._candidate(change.obj)
        if any(c is not None and self._selected(change.namespace, c) for c in (before, after)):
            self.enqueue(("namespace", change.namespace))

    def _on_service(self, change: Change) -> None:
        before, after = _selector(change.old), None if change.type == DELETED else _selector(change.obj)
        self._index_selector(change.namespace, change.name, after)
        if change.old is not None and change.type != DELETED and spec_of(change.old) == spec_of(change.obj):
            return  # metadata or status only
        ready = self._ready.get(change.namespace, {}).values()
        if any(s is not None and any(_matches(s, c.labels) for c in ready) for s in (before, after)):
            self.enqueue(("namespace", change.namespace))

    def _candidate(self, pod: Obj) -> Candidate | None:
        namespace, name = meta(pod).get("namespace") or "", meta(pod).get("name", "")
        cached = self._candidates.get((namespace, name))
        if cached is not None and cached[0] is pod:
            return cached[1]
        found = candidate(self.ctx.name, pod, self._files) if _counts(pod) else None
        if found is not None and found.security.error is not None:
            self.ctx.events.warning(pod, "MemberStartFailed", f"mongod exits: {found.security.error}", self.name)
            found = None
        self._candidates[(namespace, name)] = (pod, found)
        if found is not None:
            self._ready.setdefault(namespace, {})[name] = found
        else:
            self._ready.get(namespace, {}).pop(name, None)
        return found

    def _files(self, pod: Obj, container: Obj) -> FileReader:
        return file_reader(self.ctx.store, pod, container)

    def member_of(self, pod: Obj) -> tuple[str, int] | None:
        """The address of the member this pod backs, or None when none runs for it."""
        namespace = meta(pod).get("namespace") or ""
        for address, (_, pod_uid) in self._active.get(namespace, {}).items():
            if pod_uid == uid_of(pod):
                return address
        return None

    def _forget_pod(self, namespace: str, name: str) -> None:
        self._candidates.pop((namespace, name), None)
        self._ready.get(namespace, {}).pop(name, None)

    def _index_selector(self, namespace: str, service: str, selector: dict[str, str] | None) -> None:
        selectors = self._selectors.setdefault(namespace, {})
        index = self._by_first_label.setdefault(namespace, {})
        previous = selectors.pop(service, None)
        if previous is not None:
            first = next(iter(previous.items()))
            index[first].discard(service)
            if not index[first]:
                del index[first]
        if selector is not None:
            selectors[service] = selector
            index.setdefault(next(iter(selector.items())), set()).add(service)

    def _selected(self, namespace: str, pod: Candidate) -> bool:
        """Whether an exposed Service selects the pod (looked up by the pod's labels, not by Service)."""
        index = self._by_first_label.get(namespace)
        if not index:
            return False
        selectors = self._selectors[namespace]
        return any(
            _matches(selectors[service], pod.labels) for pair in pod.labels.items() for service in index.get(pair, ())
        )

    def _on_claim(self, change: Change) -> None:
        if change.type == DELETED:
            self.enqueue(("forget", f"{self.ctx.name}/{change.namespace}/{change.name}"))

    def set_down(self, down: bool) -> None:
        """Cluster failure stops every member (the fabric is told first); recovery restarts them."""
        self.ctx.down = down
        self.ctx.host.set_cluster_down(self.ctx.name, down)
        spaces = self._active if down else {meta(ns)["name"] for ns in self.ctx.store.list(NAMESPACES)}
        for namespace in list(spaces):
            self.enqueue(("namespace", namespace))

    async def reconcile(self, key: Hashable) -> Result | None:
        assert isinstance(key, tuple)
        kind, value = key
        if kind == "forget":
            self.ctx.host.forget_data(value)
            return None
        blocked = await self._converge(value)
        return Result(requeue_after=_PORT_RETRY_SECONDS) if blocked else None

    async def _converge(self, namespace: str) -> bool:
        """Stop what should not run, start what should; True when some address could not be bound."""
        desired = {} if self.ctx.down else self._desired(namespace)
        active = self._active.setdefault(namespace, {})
        for address, entry in list(active.items()):
            if desired.get(address) != entry:
                del active[address]
                pod = self._terminating(*entry)
                if pod is not None:  # SIGTERM: mongod hands over and stops, then kubelet removes the pod
                    task = asyncio.create_task(self._shut_down(address, entry[0], pod))
                    self._stopping[entry[1]] = (address, task)
                    continue
                await self.ctx.host.stop_member(*address)
                log.info("fedstate simulator: %s stopped member %s:%s (%s)", self.ctx.name, *address, entry[0].pod)
        blocked = False
        for address, entry in desired.items():
            if address in active:
                continue
            if await self._start(entry[0]):
                active[address] = entry
            else:
                blocked = True
        if not active:
            self._active.pop(namespace, None)
        return blocked

    async def _start(self, launch: MemberLaunch) -> bool:
        """An address taken by another process is reported on the pod and retried, not fatal."""
        try:
            await self.ctx.host.start_member(launch)
        except OSError as exc:
            log.warning(
                "fedstate simulator: %s cannot start member %s on %s:%s: %s",
                self.ctx.name,
                launch.pod,
                launch.host,
                launch.port,
                exc,
            )
            pod = self.ctx.store.get(PODS, *launch.pod.split("/", 1))
            if pod is not None:
                # An error without errno is mongod's own refusal to start (its data's FCV), not the socket's.
                why = (
                    f"mongod exits: {exc}"
                    if exc.errno is None
                    else f"simulated mongod cannot listen on {launch.host}:{launch.port}: {exc.strerror or exc}"
                )
                self.ctx.events.warning(pod, "MemberStartFailed", why, self.name)
            return False
        created = self._created_at.get(launch.pod)
        started_after = time.monotonic() - created if created is not None else None
        log.info(
            "fedstate simulator: %s started member %s:%s (%s)%s",
            self.ctx.name,
            launch.host,
            launch.port,
            launch.pod,
            f", {started_after * 1000:.1f} ms after its pod was created" if started_after is not None else "",
        )
        return True

    def _terminating(self, launch: MemberLaunch, pod_uid: str) -> Obj | None:
        """The member's pod, when it is still there and being deleted (not gone, nor replaced)."""
        pod = self.ctx.store.get(PODS, *launch.pod.split("/", 1))
        return pod if pod is not None and uid_of(pod) == pod_uid and meta(pod).get("deletionTimestamp") else None

    async def _shut_down(self, address: tuple[str, int], launch: MemberLaunch, pod: Obj) -> None:
        """mongod's clean shutdown within the pod's grace period; past it, kubelet's SIGKILL. Then the pod goes."""
        grace = float(meta(pod).get("deletionGracePeriodSeconds") or 0)
        started = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(grace) as kill_at:
                self._kill_at[uid_of(pod)] = kill_at
                await self.ctx.host.stop_member(*address, clean=True)
            how = "shut down"
        except TimeoutError:
            await self.ctx.host.stop_member(*address)
            how = f"killed after {asyncio.get_running_loop().time() - started:.0f} s of its grace period"
        finally:
            self._stopping.pop(uid_of(pod), None)
            self._kill_at.pop(uid_of(pod), None)
        log.info("fedstate simulator: %s %s member %s:%s (%s)", self.ctx.name, how, *address, launch.pod)
        remove_terminated(self.ctx.store, pod)

    def _bring_kill_forward(self, pod: Obj) -> None:
        """A later delete with a shorter grace period (the API server keeps only a shorter one) has the kubelet kill
        the container that much sooner from now, however long the first one gave it."""
        grace = meta(pod).get("deletionGracePeriodSeconds")
        kill_at = self._kill_at[uid_of(pod)]
        if grace is None or (when := kill_at.when()) is None:
            return
        sooner = asyncio.get_running_loop().time() + float(grace)
        if sooner < when:
            kill_at.reschedule(sooner)

    def runs_for(self, pod: Obj) -> bool:
        """Does a member run, or still shut down, for this pod?"""
        return uid_of(pod) in self._stopping or self.member_of(pod) is not None

    def _desired(self, namespace: str) -> Desired:
        store = self.ctx.store
        candidates = [c for pod in store.list(PODS, namespace) if (c := self._candidate(pod)) is not None]
        return plan_members(self.ctx.vip, store.list(SERVICES, namespace), candidates) if candidates else {}

    async def stop_all(self) -> None:
        for address, task in list(self._stopping.values()):
            task.cancel()
            await self.ctx.host.stop_member(*address)
        for namespace in list(self._active):
            for address in list(self._active[namespace]):
                await self.ctx.host.stop_member(*address)
        self._active.clear()


def _counts(pod: Obj) -> bool:
    """Ready and not being deleted: the pods ``desired_members`` looks at."""
    return is_ready(pod) and not meta(pod).get("deletionTimestamp")


def _selector(service: Obj | None) -> dict[str, str] | None:
    """The selector of an exposed Service (None when it is not exposed or selects nothing)."""
    if service is None or spec_of(service).get("type") not in EXPOSED_TYPES:
        return None
    return spec_of(service).get("selector") or None


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
