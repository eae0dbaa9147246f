"""ResourceQuota for Pods and PersistentVolumeClaims: what kube-apiserver's ResourceQuota admission plugin refuses
and charges (``plugin/pkg/admission/resourcequota``), and the usage kube-controller-manager's quota controller keeps
in ``status`` (``controllers/quotas.py`` lowers it as objects go or finish).

What an object uses (``pkg/quota/v1/evaluator/core``): a pod always ``count/pods``; unless it has finished
(Succeeded, Failed) or is still there past its deletion's grace period, also ``pods`` and its requests (``cpu``,
``requests.cpu``, the same for memory and ephemeral-storage) and limits (``limits.cpu``...) — containers summed, init
containers by kube's rule (the most any needs beside the sidecars started before it), plus ``spec.overhead``; absent
requests are the limits, as kube's defaulting makes them. A claim uses ``persistentvolumeclaims``,
``count/persistentvolumeclaims`` and ``requests.storage``, also per class (``<class>.storageclass.storage.k8s.io/...``).

Admission (``CheckRequest``), on a pod's create and a claim's create or update, after the kind's own checks: a quota
applies when its ``status.hard`` names something the kind uses and the object is in its scopes. A pod lacking a
cpu/memory request or limit such a quota tracks is 403 ``failed quota: <quota>: must specify ...``; an object that
takes ``status.used`` past ``status.hard`` is 403 ``exceeded quota: ...``; otherwise ``status.used`` grows at once.
Refused, nothing changes. A quota's status is computed as it is written (hard from the spec, used from the
namespace), the quota controller's first sync done at once, so a quota binds from its creation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.errors import INVALID, FieldError
from fedstate_sim.kube.meta import Obj, epoch_seconds, meta, name_of, namespace_of, spec_of, status_of
from fedstate_sim.kube.pods import CONTAINER_LISTS, qos_class
from fedstate_sim.kube.quantities import ONE, ZERO, Quantity
from fedstate_sim.kube.resources import PODS, PVCS, RESOURCEQUOTAS, ResourceType
from fedstate_sim.kube.selectors import Requirement

if TYPE_CHECKING:
    from fedstate_sim.kube.store import ObjectStore

Usage = dict[str, Quantity]
FINISHED = ("Succeeded", "Failed")
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
_POD_RESOURCES = frozenset(
    {"pods", "count/pods", *_COMPUTE, *(f"requests.{r}" for r in _COMPUTE), *(f"limits.{r}" for r in _COMPUTE)}
)
# "it was a mistake, but if a quota tracks cpu or memory related resources, the incoming pod is required to have
# those values set" (pods.go's validationSet)
_MUST_SPECIFY = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})
_CLAIM_RESOURCES = ("persistentvolumeclaims", "requests.storage")
_BY_CLASS = ".storageclass.storage.k8s.io/"
_BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def parsed(values: object) -> Usage:
    return {str(k): Quantity.parse(v) for k, v in values.items()} if isinstance(values, dict) else {}


def written(usage: Usage) -> dict[str, str]:
    return {name: str(quantity) for name, quantity in sorted(usage.items())}


def _add_into(total: Usage, more: Usage) -> None:
    for name, quantity in more.items():
        total[name] = total.get(name, ZERO) + quantity


def _max_into(peak: Usage, more: Usage) -> None:
    for name, quantity in more.items():
        if name not in peak or quantity.value > peak[name].value:
            peak[name] = quantity


class Evaluator(ABC):
    """What one kind uses of a quota (kube's ``quota.Evaluator``)."""

    rtype: ResourceType
    charges_updates: ClassVar[bool] = False  # kube's ``Handles``: creates only, or updates too

    @abstractmethod
    def matching(self, names: Iterable[str]) -> set[str]:
        """The quota resources among ``names`` this kind uses."""

    @abstractmethod
    def usage(self, obj: Obj, now: float) -> Usage: ...

    @abstractmethod
    def in_scope(self, scope: Requirement, obj: Obj) -> bool: ...

    def missing(self, tracked: set[str], obj: Obj) -> str:
        """``Constraints``: why the object cannot be measured against a quota tracking ``tracked`` ("" if it can)."""
        return ""


class PodEvaluator(Evaluator):
    rtype = PODS

    def matching(self, names: Iterable[str]) -> set[str]:
        return set(names) & _POD_RESOURCES

    def usage(self, obj: Obj, now: float) -> Usage:
        if not charged(obj, now):
            return {"count/pods": ONE}  # "object count quotas track all objects that are in storage"
        spec = spec_of(obj)
        return {"count/pods": ONE, **_compute(_pod_total(spec, "requests"), _pod_total(spec, "limits"))}

    def in_scope(self, scope: Requirement, obj: Obj) -> bool:
        spec, name = spec_of(obj), scope.key
        if name in ("Terminating", "NotTerminating"):
            deadline = spec.get("activeDeadlineSeconds")
            return (isinstance(deadline, int) and deadline >= 0) == (name == "Terminating")
        if name in ("BestEffort", "NotBestEffort"):
            return (qos_class(spec) == "BestEffort") == (name == "BestEffort")
        if name == "PriorityClass":
            priority = spec.get("priorityClassName")
            return scope.matches({name: priority} if priority else {})
        return name == "CrossNamespacePodAffinity" and _cross_namespace_affinity(spec)

    def missing(self, tracked: set[str], obj: Obj) -> str:
        required = tracked & _MUST_SPECIFY
        lacking: dict[str, set[str]] = {}  # resource → the containers that do not specify it
        for field in CONTAINER_LISTS:
            for container in spec_of(obj).get(field) or []:
                has = _compute(wanted(container, "requests"), wanted(container, "limits"))
                for name in required - has.keys():
                    lacking.setdefault(name, set()).add(str(container.get("name", "")))
        if not lacking:
            return ""
        return "must specify " + "; ".join(f"{n} for: {','.join(sorted(lacking[n]))}" for n in sorted(lacking))


class ClaimEvaluator(Evaluator):
    rtype = PVCS
    charges_updates = True  # a claim growing is charged what it adds

    def matching(self, names: Iterable[str]) -> set[str]:
        return {
            name
            for name in names
            if name == "count/persistentvolumeclaims"
            or name in _CLAIM_RESOURCES
            or any(name.endswith(_BY_CLASS + resource) for resource in _CLAIM_RESOURCES)
        }

    def usage(self, obj: Obj, now: float) -> Usage:
        usage = {"persistentvolumeclaims": ONE, "count/persistentvolumeclaims": ONE}
        annotations = meta(obj).get("annotations") or {}
        klass = annotations.get(_BETA_CLASS_ANNOTATION, spec_of(obj).get("storageClassName")) or ""
        storage = _claim_storage(obj)
        if storage is not None:
            usage["requests.storage"] = storage
        if klass:
            usage |= {f"{klass}{_BY_CLASS}{name}": usage[name] for name in _CLAIM_RESOURCES if name in usage}
        return usage

    def in_scope(self, scope: Requirement, obj: Obj) -> bool:
        return False  # the only claim scope, VolumeAttributesClass, is behind a feature gate off in v1.31


POD_EVALUATOR, CLAIM_EVALUATOR = PodEvaluator(), ClaimEvaluator()
_EVALUATORS: tuple[Evaluator, ...] = (POD_EVALUATOR, CLAIM_EVALUATOR)


def charged(pod: Obj, now: float) -> bool:
    """``QuotaV1Pod``: a pod counts until it finishes, or is still there past its deletion's grace period (stuck
    terminating, say on a lost node: kube stops charging for it so its successor can start)."""
    if status_of(pod).get("phase") in FINISHED:
        return False
    ends = stops_counting_at(pod)
    return ends is None or now <= ends


def stops_counting_at(pod: Obj) -> float | None:
    deleted, grace = meta(pod).get("deletionTimestamp"), meta(pod).get("deletionGracePeriodSeconds")
    return None if not deleted or grace is None else epoch_seconds(deleted) + int(grace)


def wanted(container: Obj, side: str) -> Usage:
    """A container's limits, or its requests: those it names, else its limits (``SetDefaults_Pod``)."""
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    return parsed(limits if side == "limits" else {**limits, **(resources.get("requests") or {})})


def _pod_total(spec: Obj, side: str) -> Usage:
    """``PodRequests``/``PodLimits``: :func:`pod_sum`, plus the overhead, which adds to every request and to limits
    already set."""
    total = pod_sum(spec, side)
    for name, quantity in parsed(spec.get("overhead")).items():
        if side == "requests" or total.get(name, ZERO).value != 0:
            total[name] = total.get(name, ZERO) + quantity
    return total


def pod_sum(spec: Obj, side: str) -> Usage:
    """What a pod's containers ask together: containers and sidecars (``restartPolicy: Always`` init containers) run
    together; each other init container runs alone beside the sidecars started before it, so the pod needs at least
    the most any of those moments does."""
    total: Usage = {}
    for container in spec.get("containers") or []:
        _add_into(total, wanted(container, side))
    sidecars: Usage = {}
    peak: Usage = {}
    for container in spec.get("initContainers") or []:
        running = wanted(container, side)
        if container.get("restartPolicy") == "Always":
            _add_into(total, running)
            _add_into(sidecars, running)
            running = sidecars
        else:
            _add_into(running, sidecars)
        _max_into(peak, running)
    _max_into(total, peak)
    return total


def _compute(requests: Usage, limits: Usage) -> Usage:
    """``podComputeUsageHelper``: ``cpu`` and ``memory`` are the requests."""
    usage = {"pods": ONE}
    for name in _COMPUTE:
        if name in requests:
            usage[name] = usage[f"requests.{name}"] = requests[name]
        if name in limits:
            usage[f"limits.{name}"] = limits[name]
    return usage


def _cross_namespace_affinity(spec: Obj) -> bool:
    affinity = spec.get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(kind) or {}
        terms = list(rules.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [
            w.get("podAffinityTerm") or {} for w in rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        ]
        if any(term.get("namespaces") or term.get("namespaceSelector") is not None for term in terms):
            return True
    return False


def _claim_storage(claim: Obj) -> Quantity | None:
    """The storage asked, in whole bytes; more if more is already allocated (a resize under way)."""
    asked = ((spec_of(claim).get("resources") or {}).get("requests") or {}).get("storage")
    if asked is None:
        return None
    storage = Quantity.parse(asked).rounded_up()
    allocated = (status_of(claim).get("allocatedResources") or {}).get("storage")
    if allocated is not None and Quantity.parse(allocated).value > storage.value:
        return Quantity.parse(allocated).rounded_up()
    return storage


def _scopes(quota: Obj) -> list[Requirement]:
    spec = spec_of(quota)
    selectors = [Requirement(str(scope), "Exists") for scope in spec.get("scopes") or []]
    return selectors + [
        Requirement(str(e.get("scopeName", "")), str(e.get("operator", "")), frozenset(e.get("values") or ()))
        for e in (spec.get("scopeSelector") or {}).get("matchExpressions") or []
    ]


def _in_scopes(quota: Obj, obj: Obj, evaluator: Evaluator) -> bool:
    return all(evaluator.in_scope(scope, obj) for scope in _scopes(quota))


def _applies(quota: Obj, obj: Obj, evaluator: Evaluator) -> bool:
    """``generic.Matches``: the quota tracks something the kind uses, and the object is in its scopes."""
    return bool(evaluator.matching(parsed(status_of(quota).get("hard")))) and _in_scopes(quota, obj, evaluator)


def _listed(values: Usage, names: list[str]) -> str:
    """``prettyPrint``: ``name=quantity``, sorted, comma-separated."""
    return ",".join(f"{name}={values[name]}" for name in names if name in values)


def _charges(store: ObjectStore, evaluator: Evaluator, obj: Obj, old: Obj | None) -> list[tuple[Obj, Usage]]:
    """``CheckRequest``: each quota the object is charged to, with its ``status.used`` once charged; 403 naming the
    first quota that cannot measure it or that it does not fit in."""
    now, resource, name = store.clock.now(), evaluator.rtype.resource, name_of(obj)
    quotas = [q for q in store.list(RESOURCEQUOTAS, namespace_of(obj)) if _applies(q, obj, evaluator)]
    for quota in quotas:
        tracked = evaluator.matching(parsed(status_of(quota).get("hard")))
        if why := evaluator.missing(tracked, obj):
            raise errors.forbidden(resource, name, f"failed quota: {name_of(quota)}: {why}")
        if tracked - parsed(status_of(quota).get("used")).keys():
            listed = ",".join(sorted(tracked))
            raise errors.forbidden(resource, name, f"status unknown for quota: {name_of(quota)}, resources: {listed}")
    usage, charges = evaluator.usage(obj, now), []
    for quota in quotas:
        hard, used = parsed(status_of(quota).get("hard")), parsed(status_of(quota).get("used"))
        delta = usage
        if old is not None and _applies(quota, old, evaluator):  # an update is charged what it adds
            before = evaluator.usage(old, now)
            delta = {key: quantity.less_or_zero(before.get(key, ZERO)) for key, quantity in usage.items()}
        requested = {key: quantity for key, quantity in delta.items() if key in hard and quantity.value != 0}
        if not requested:
            continue
        new_used = {**used, **{key: used.get(key, ZERO) + quantity for key, quantity in requested.items()}}
        exceeded = sorted(key for key in requested if new_used[key].value > hard[key].value)
        if exceeded:
            why = (
                f"exceeded quota: {name_of(quota)}, requested: {_listed(requested, exceeded)}, "
                f"used: {_listed(used, exceeded)}, limited: {_listed(hard, exceeded)}"
            )
            raise errors.forbidden(resource, name, why)
        charges.append((quota, new_used))
    return charges


class QuotaAdmission(Admission):
    """The ResourceQuota admission plugin for one kind. Registered after the kind's own hooks: kube validates an
    object (422) before its validating admission plugins run (403)."""

    def __init__(self, store: ObjectStore, evaluator: Evaluator) -> None:
        self._store = store
        self._evaluator = evaluator

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        self._admit(obj, None)

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        if self._evaluator.charges_updates:
            self._admit(new, old)

    def _admit(self, obj: Obj, old: Obj | None) -> None:
        for quota, used in _charges(self._store, self._evaluator, obj, old):  # all checked before any is charged
            change = partial(_set_used, used=written(used))
            self._store.mutate(RESOURCEQUOTAS, namespace_of(quota), name_of(quota), change, subresource="status")


def _set_used(quota: Obj, used: dict[str, str]) -> None:
    quota.setdefault("status", {})["used"] = used


def quota_status(store: ObjectStore, quota: Obj, now: float) -> Obj:
    """What the quota controller writes: ``hard`` from the spec, ``used`` measured in the namespace for every hard
    resource the simulator measures (others keep what ``used`` said)."""
    hard = parsed(spec_of(quota).get("hard"))
    used = {k: v for k, v in parsed(status_of(quota).get("used")).items() if k in hard}
    for evaluator in _EVALUATORS:
        tracked = evaluator.matching(hard)
        if not tracked:
            continue
        totals = dict.fromkeys(tracked, ZERO)
        for obj in store.list(evaluator.rtype, namespace_of(quota)):
            if _in_scopes(quota, obj, evaluator):
                usage = evaluator.usage(obj, now)
                _add_into(totals, {name: usage[name] for name in tracked if name in usage})
        used |= totals
    status = {"hard": written(hard), "used": written(used)}
    return {key: value for key, value in status.items() if value}


class QuotaStatus(Admission):
    """A ResourceQuota as it is written: ``ValidateResourceQuota``'s rule that nothing is limited below zero, and
    its status computed at once (the quota controller's sync, which kube runs moments later)."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        self._settle(obj)

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        self._settle(new)

    def _settle(self, quota: Obj) -> None:
        errs = [
            FieldError(INVALID, f"spec.hard[{name}]", "must be greater than or equal to 0", str(quantity))
            for name, quantity in sorted(parsed(spec_of(quota).get("hard")).items())
            if quantity.value < 0
        ]
        if errs:
            raise errors.invalid_object("ResourceQuota", name_of(quota), errs)
        quota["status"] = quota_status(self._store, quota, self._store.clock.now())
