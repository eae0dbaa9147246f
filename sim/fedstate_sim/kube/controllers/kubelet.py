"""The kubelet of every node at once: a bound pod becomes Running with container statuses at
once, and Ready after ``SimSettings.pod_startup_seconds``. Pod and host IP are the cluster VIP.

A deleted pod terminates: it stays, no longer Ready, while its containers stop (a mongod shuts down cleanly,
a primary handing over first), at most for its grace period, and is then removed; the StatefulSet controller
creates its successor only after that, as in Kubernetes.

A pod whose Secret or ConfigMap volume cannot be set up (the object, or a key its ``items`` name, missing) starts no
container: it stays Pending, its containers waiting in ``ContainerCreating``, with a ``FailedMount`` warning; the
kubelet tries again with its volume operations' backoff (0.5 s, doubling to 2 min 2 s), as kubelet's
``nestedpendingoperations`` does, not the moment the object appears.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable

from fedstate_sim.kube.context import ClusterContext
from fedstate_sim.kube.controllers.base import Controller, Result
from fedstate_sim.kube.errors import ApiError
from fedstate_sim.kube.history import DELETED, Change
from fedstate_sim.kube.meta import Obj, condition, condition_true, meta, spec_of, status_of, uid_of
from fedstate_sim.kube.podfiles import missing_sources
from fedstate_sim.kube.resources import PODS
from fedstate_sim.kube.store import ObjectStore

COMPONENT = "kubelet"
MOUNT_RETRY_SECONDS = 0.5  # kubelet's initialDurationBeforeRetry for a failed volume operation
MOUNT_RETRY_MAX_SECONDS = 122.0  # and its maxDurationBeforeRetry (2 min 2 s)


def remove_terminated(store: ObjectStore, pod: Obj) -> None:
    """Kubelet's last word on a pod whose containers have stopped: delete it for good (grace 0), unless it is
    already gone or replaced."""
    current = store.get(PODS, meta(pod)["namespace"], meta(pod)["name"])
    if current is None or uid_of(current) != uid_of(pod):
        return
    try:
        store.delete(PODS, meta(pod)["namespace"], meta(pod)["name"], grace_seconds=0)
    except ApiError:
        return  # gone meanwhile


class Kubelet(Controller):
    name = COMPONENT

    def __init__(self, ctx: ClusterContext, runs_member: Callable[[Obj], bool]) -> None:
        """``runs_member(pod)``: does a mongod still run (or shut down) for the pod? Its end removes the pod."""
        self._runs_member = runs_member
        super().__init__(ctx)

    def register(self) -> None:
        self._ready_at: dict[tuple[str, str], float] = {}
        self._mount_failures: dict[tuple[str, str], tuple[int, float]] = {}  # → (failed tries, next try at)
        self.ctx.store.add_listener(PODS.resource, self._on_pod)

    def _on_pod(self, change: Change) -> None:
        key = (change.namespace, change.name)
        if change.type == DELETED:
            self._ready_at.pop(key, None)
            self._mount_failures.pop(key, None)
        elif meta(change.obj).get("deletionTimestamp"):
            if spec_of(change.obj).get("nodeName") and not meta(change.old or {}).get("deletionTimestamp"):
                self.enqueue(key)
        elif (
            spec_of(change.obj).get("nodeName")
            and not condition_true(change.obj, "Ready")
            and status_of(change.obj).get("phase") in ("Pending", "Running", None)
        ):
            self.enqueue(key)

    async def reconcile(self, key: Hashable) -> Result | None:
        assert isinstance(key, tuple)
        pod = self.ctx.store.get(PODS, *key)
        if pod is None or not spec_of(pod).get("nodeName"):
            return None
        if meta(pod).get("deletionTimestamp"):
            return self._terminate(key, pod)
        if status_of(pod).get("phase") != "Running" and (why := missing_sources(self.ctx.store, pod)):
            return self._mount_failed(key, pod, why)
        self._mount_failures.pop(key, None)
        now = asyncio.get_running_loop().time()
        ready_at = self._ready_at.setdefault(key, now + self.ctx.settings.pod_startup_seconds)
        ready = now >= ready_at
        status = self._running_status(pod, ready)
        self.ctx.store.mutate(PODS, key[0], key[1], lambda obj: obj.update(status=status), "status")
        if ready:
            self._ready_at.pop(key, None)
            return None
        return Result(requeue_after=ready_at - now)

    def _terminate(self, key: tuple[str, str], pod: Obj) -> Result | None:
        """A deleted pod's containers get SIGTERM: it is no longer Ready, and goes once they have stopped (at once
        when no mongod runs for it)."""
        self._ready_at.pop(key, None)
        if condition_true(pod, "Ready"):
            status = self._running_status(pod, ready=False)
            pod = self.ctx.store.mutate(PODS, key[0], key[1], lambda obj: obj.update(status=status), "status") or pod
        if not self._runs_member(pod):
            remove_terminated(self.ctx.store, pod)
            return None
        # Its mongod is stopping: the member controller removes the pod once it has, killed at the end of the grace
        # period at the latest. Removing it here too could let a successor start before the old member is gone.
        return Result(requeue_after=max(_grace(pod), 1.0))

    def _mount_failed(self, key: tuple[str, str], pod: Obj, why: list[str]) -> Result:
        """No container starts: the pod waits in ContainerCreating, told why, and is tried again after a backoff (a
        look before it is due, woken by the pod's own status write, tries nothing)."""
        now = asyncio.get_running_loop().time()
        failures, retry_at = self._mount_failures.get(key, (0, now))
        if now < retry_at:
            return Result(requeue_after=retry_at - now)
        backoff = min(MOUNT_RETRY_MAX_SECONDS, MOUNT_RETRY_SECONDS * 2**failures)
        self._mount_failures[key] = (failures + 1, now + backoff)
        for message in why:
            self.ctx.events.warning(pod, "FailedMount", message, COMPONENT)
        status = self._creating_status(pod)
        if status != status_of(pod):
            self.ctx.store.mutate(PODS, key[0], key[1], lambda obj: obj.update(status=status), "status")
        return Result(requeue_after=backoff)

    def _creating_status(self, pod: Obj) -> Obj:
        previous, clock = status_of(pod), self.ctx.store.clock
        scheduled = (condition(pod, "PodScheduled") or {}).get("lastTransitionTime") or clock.timestamp()
        waiting = {"waiting": {"reason": "ContainerCreating"}}
        return {
            **previous,
            "phase": "Pending",
            "conditions": [
                _condition(pod, "PodReadyToStartContainers", "False", clock.timestamp()),
                _condition(pod, "Initialized", "True", scheduled),
                _condition(pod, "Ready", "False", clock.timestamp()),
                _condition(pod, "ContainersReady", "False", clock.timestamp()),
                _condition(pod, "PodScheduled", "True", scheduled),
            ],
            "hostIP": self.ctx.vip,
            "hostIPs": [{"ip": self.ctx.vip}],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": "",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": waiting,
                }
                for c in spec_of(pod)["containers"]
            ],
        }

    def _running_status(self, pod: Obj, ready: bool) -> Obj:
        previous, clock, vip = status_of(pod), self.ctx.store.clock, self.ctx.vip
        started = previous.get("startTime") or clock.timestamp()
        flag = "True" if ready else "False"
        conditions = [
            _condition(pod, "PodReadyToStartContainers", "True", started),
            _condition(pod, "Initialized", "True", started),
            _condition(pod, "Ready", flag, clock.timestamp()),
            _condition(pod, "ContainersReady", flag, clock.timestamp()),
            _condition(pod, "PodScheduled", "True", started),
        ]
        return {
            **previous,
            "phase": "Running",
            "conditions": conditions,
            "hostIP": vip,
            "hostIPs": [{"ip": vip}],
            "podIP": vip,
            "podIPs": [{"ip": vip}],
            "startTime": started,
            "containerStatuses": [_container_status(pod, c, ready, started) for c in spec_of(pod)["containers"]],
            "initContainerStatuses": [_init_status(pod, c, started) for c in spec_of(pod).get("initContainers") or []],
        }


def _grace(pod: Obj) -> float:
    return float(meta(pod).get("deletionGracePeriodSeconds") or 0)


def _condition(pod: Obj, kind: str, value: str, now: str) -> Obj:
    previous = condition(pod, kind)
    if previous is not None and previous.get("status") == value and previous.get("lastTransitionTime"):
        return {"type": kind, "status": value, "lastTransitionTime": previous["lastTransitionTime"]}
    return {"type": kind, "status": value, "lastTransitionTime": now}


def _container_status(pod: Obj, container: Obj, ready: bool, started: str) -> Obj:
    return {
        "name": container["name"],
        "image": container["image"],
        "imageID": f"sim://{container['image']}",
        "containerID": f"sim://{uid_of(pod)}/{container['name']}",
        "ready": ready,
        "started": True,
        "restartCount": 0,
        "state": {"running": {"startedAt": started}},
    }


def _init_status(pod: Obj, container: Obj, started: str) -> Obj:
    terminated = {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started}
    return {**_container_status(pod, container, True, started), "started": False, "state": {"terminated": terminated}}
