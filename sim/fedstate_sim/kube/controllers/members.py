"""Starts and stops simulated mongod members through the ``MemberHost`` as pods become Ready,
Services expose them, and the cluster fails or recovers; forgets data when a PVC is deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable

from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.controllers.member_plan import Desired, desired_members
from fedstate_sim.kube.controllers.statefulset_plan import is_ready
from fedstate_sim.kube.history import DELETED, Change
from fedstate_sim.kube.meta import meta
from fedstate_sim.kube.resources import NAMESPACES, PODS, PVCS, SERVICES
from fedstate_sim.mongo.api import MemberLaunch

log = logging.getLogger(__name__)
_PORT_RETRY_SECONDS = 5.0


class MemberController(Controller):
    name = "member-controller"

    def register(self) -> None:
        self._active: dict[str, Desired] = {}
        store = self.ctx.store
        store.add_listener(PODS.resource, self._on_change)
        store.add_listener(SERVICES.resource, self._on_change)
        store.add_listener(PVCS.resource, self._on_claim)

    def _on_change(self, change: Change) -> None:
        self.enqueue(("namespace", change.namespace))

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
                await self.ctx.host.stop_member(*address)
                del active[address]
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
                self.ctx.events.warning(
                    pod,
                    "MemberStartFailed",
                    f"simulated mongod cannot listen on {launch.host}:{launch.port}: {exc.strerror or exc}",
                    self.name,
                )
            return False
        log.info(
            "fedstate simulator: %s started member %s:%s (%s)", self.ctx.name, launch.host, launch.port, launch.pod
        )
        return True

    def _desired(self, namespace: str) -> Desired:
        store = self.ctx.store
        pods = [p for p in store.list(PODS, namespace) if is_ready(p) and not meta(p).get("deletionTimestamp")]
        return desired_members(self.ctx.name, self.ctx.vip, store.list(SERVICES, namespace), pods) if pods else {}

    async def stop_all(self) -> None:
        for namespace in list(self._active):
            for address in list(self._active[namespace]):
                await self.ctx.host.stop_member(*address)
        self._active.clear()
