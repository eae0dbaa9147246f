"""LimitRange: the object as kube-apiserver defaults and validates it, and the LimitRanger admission plugin that
applies it to Pods and PersistentVolumeClaims (``plugin/pkg/admission/limitranger``), as of v1.31.

The object (``SetDefaults_LimitRangeItem``, ``ValidateLimitRange``): its quantities are stored canonical (``1024Mi``
is ``1Gi``); an item of type ``Container`` gets, where unset, ``default`` from ``max``, then ``defaultRequest`` from
``default``, then from ``min``. 422 for a type that is not ``Pod``, ``Container``, ``PersistentVolumeClaim`` (or
prefixed), a type twice, a resource name that is not standard, ``default``/``defaultRequest`` on a ``Pod`` item, a
``PersistentVolumeClaim`` item bounding no storage, and bounds out of order (``min <= defaultRequest <= default <=
max``, ``maxLimitRequestRatio`` at least 1 and at most max/min).

The plugin, for each LimitRange of the namespace in turn:

- mutating, on a Pod's create, before the Pod is validated (:class:`LimitRangerDefaults`): each container and init
  container gets the ``default`` limits and ``defaultRequest`` requests of the ``Container`` item that it does not
  set, and the pod says so in ``kubernetes.io/limit-ranger``;
- validating, after the kind's own checks and before ResourceQuota, which thus charges the defaults
  (:class:`LimitRangerBounds`): ``min``, ``max`` and ``maxLimitRequestRatio`` per Container (each container and init
  container) and per Pod (the sum :func:`quotas.pod_sum` takes); ``min`` and ``max`` requested per claim, on its
  create and when an update changes the request. 403 ``pods "p" is forbidden: maximum cpu usage per Container is 1,
  but limit is 2``: the first LimitRange that refuses names everything it refuses (``[a, b]``, a repeat once).

A container's request is what it names, else its limit: kube's decoding (``SetDefaults_Pod``) copies limits into
absent requests before any admission plugin runs (the simulator does not write that copy; ``quotas.wanted``).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.errors import DUPLICATE, FORBIDDEN, INVALID, REQUIRED, FieldError
from fedstate_sim.kube.meta import Obj, meta, name_of, namespace_of, spec_of
from fedstate_sim.kube.pods import CONTAINER_LISTS
from fedstate_sim.kube.quantities import ONE, Quantity
from fedstate_sim.kube.quotas import Usage, parsed, pod_sum, wanted, written
from fedstate_sim.kube.resources import LIMITRANGES, PODS, ResourceType
from fedstate_sim.kube.validation import qualified_name

if TYPE_CHECKING:
    from fedstate_sim.kube.store import ObjectStore

ANNOTATION = "kubernetes.io/limit-ranger"
POD, CONTAINER, CLAIM = "Pod", "Container", "PersistentVolumeClaim"
_BOUNDS = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
# helper.IsStandardResourceName, hugepages aside
_STANDARD_RESOURCES = _CONTAINER_RESOURCES | {
    *(f"{side}.{name}" for side in ("requests", "limits") for name in _CONTAINER_RESOURCES),
    *("pods", "quota", "services", "replicationcontrollers", "secrets", "configmaps", "persistentvolumeclaims"),
    *("storage", "requests.storage", "services.nodeports", "services.loadbalancers"),
}
_MAX_MILLI = (2**63 - 1) // 1000  # resource.MaxMilliValue: past it, kube compares whole units


class LimitRangeObject(Admission):
    """A LimitRange as it is created or updated: defaulted, its quantities canonical, validated (422)."""

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        _settle(obj)

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        _settle(new)


def _items(limit_range: Obj) -> list[Obj]:
    return [item for item in spec_of(limit_range).get("limits") or [] if isinstance(item, dict)]


def _settle(limit_range: Obj) -> None:
    limit_range.setdefault("spec", {})
    for item in _items(limit_range):
        for bound in _BOUNDS:
            item[bound] = written(parsed(item.get(bound)))  # 400 for what is no quantity, as kube's decoding
        if item.get("type") == CONTAINER:
            item["default"] = {**item["max"], **item["default"]}
            item["defaultRequest"] = {**item["min"], **item["default"], **item["defaultRequest"]}
        for bound in _BOUNDS:
            if not item[bound]:
                del item[bound]  # an empty map is omitted, as Go's omitempty does
    if errs := limit_range_errors(_items(limit_range)):
        raise errors.invalid_object("LimitRange", name_of(limit_range), errs)


def limit_range_errors(items: list[Obj]) -> list[FieldError]:
    """``ValidateLimitRange``, in its order; resources sorted where kube walks a Go map (in no fixed order)."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        at, kind = f"spec.limits[{index}]", str(item.get("type") or "")
        errs += _type_errors(kind, f"{at}.type")
        if kind in seen:
            errs.append(FieldError(DUPLICATE, f"{at}.type", value=kind))
        seen.add(kind)
        bounds = {bound: parsed(item.get(bound)) for bound in _BOUNDS}
        errs += _names_errors(kind, at, bounds, "max", "min")
        if kind == POD:
            why = "may not be specified when `type` is 'Pod'"
            errs += [FieldError(FORBIDDEN, f"{at}.{b}", why) for b in ("default", "defaultRequest") if bounds[b]]
            bounds["default"], bounds["defaultRequest"] = {}, {}
        else:
            errs += _names_errors(kind, at, bounds, "default", "defaultRequest")
        if kind == CLAIM and "storage" not in bounds["min"] and "storage" not in bounds["max"]:
            why = "either minimum or maximum storage value is required, but neither was provided"
            errs.append(FieldError(REQUIRED, f"{at}.limits", why))
        errs += _names_errors(kind, at, bounds, "maxLimitRequestRatio")
        for name in sorted({name for values in bounds.values() for name in values}):
            errs += _order_errors(at, name, *(bounds[bound].get(name) for bound in _BOUNDS))
    return errs


def _type_errors(kind: str, field: str) -> list[FieldError]:
    errs = [FieldError(INVALID, field, why, kind) for why in qualified_name(kind)]
    if not errs and "/" not in kind and kind not in (POD, CONTAINER, CLAIM):
        errs.append(FieldError(INVALID, field, "must be a standard limit type or fully qualified", kind))
    return errs


def _names_errors(kind: str, at: str, bounds: dict[str, Usage], *named: str) -> list[FieldError]:
    return [e for bound in named for name in sorted(bounds[bound]) for e in _name_errors(kind, name, f"{at}.{bound}")]


def _name_errors(kind: str, name: str, at: str) -> list[FieldError]:
    """``validateLimitRangeResourceName``: a qualified name, standard unless prefixed; for Pods and Containers a
    container resource (cpu, memory, ephemeral-storage, hugepages-*)."""
    field = f"{at}[{name}]"
    errs = [FieldError(INVALID, field, why, name) for why in qualified_name(name)]
    if "/" in name:
        return errs  # extended resource names are not checked further
    if not errs and name not in _STANDARD_RESOURCES and not name.startswith(("hugepages-", "requests.hugepages-")):
        errs.append(FieldError(INVALID, field, "must be a standard resource type or fully qualified", name))
    if kind in (POD, CONTAINER) and name not in _CONTAINER_RESOURCES and not name.startswith("hugepages-"):
        errs.append(FieldError(INVALID, field, "must be a standard resource for containers", name))
    return errs


def _order_errors(
    at: str,
    name: str,
    high: Quantity | None,
    low: Quantity | None,
    default: Quantity | None,
    request: Quantity | None,
    ratio: Quantity | None,
) -> list[FieldError]:
    """The bounds of one resource in their order. kube shows ``max`` as the value of ``default`` above it."""
    found: list[tuple[str, Quantity, str]] = []  # (bound, the value shown, why)
    if low is not None and high is not None and low.value > high.value:
        found.append(("min", low, f"min value {low} is greater than max value {high}"))
    if request is not None and low is not None and low.value > request.value:
        found.append(("defaultRequest", request, f"min value {low} is greater than default request value {request}"))
    if request is not None and high is not None and request.value > high.value:
        found.append(("defaultRequest", request, f"default request value {request} is greater than max value {high}"))
    if request is not None and default is not None and request.value > default.value:
        why = f"default request value {request} is greater than default limit value {default}"
        found.append(("defaultRequest", request, why))
    if default is not None and low is not None and low.value > default.value:
        found.append(("default", low, f"min value {low} is greater than default value {default}"))
    if default is not None and high is not None and default.value > high.value:
        found.append(("default", high, f"default value {default} is greater than max value {high}"))
    if ratio is not None and ratio.value < ONE.value:
        found.append(("maxLimitRequestRatio", ratio, f"ratio {ratio} is less than 1"))
    if ratio is not None and low is not None and high is not None and (spread := _max_over_min(ratio, low, high)):
        found.append(("maxLimitRequestRatio", ratio, f"ratio {ratio} is greater than max/min = {spread:f}"))
    overcommits = "/" not in name and not name.startswith("hugepages-")  # helper.IsOvercommitAllowed
    if not overcommits and default is not None and request is not None and default.value != request.value:
        why = f"default value {default} must equal to defaultRequest value {request} in {name}"
        found.append(("defaultRequest", request, why))
    return [FieldError(INVALID, f"{at}.{bound}[{name}]", why, str(shown)) for bound, shown, why in found]


def _max_over_min(ratio: Quantity, low: Quantity, high: Quantity) -> float | None:
    """max/min when ``ratio`` exceeds it, in milli-units as kube computes it (None when it does not)."""
    wanted_ratio, lowest, highest = float(_scaled(ratio, 0)), _scaled(low, 0), _scaled(high, 0)
    if max(_scaled(ratio, 0), lowest, highest) < _MAX_MILLI:
        wanted_ratio, lowest, highest = _scaled(ratio, 3) / 1000, _scaled(low, 3), _scaled(high, 3)
    if lowest == 0:
        return None  # Go divides to +Inf (or NaN): nothing exceeds it
    spread = float(highest) / float(lowest)
    return spread if wanted_ratio > spread else None


def _scaled(quantity: Quantity | None, exponent: int) -> int:
    """``ScaledValue``: the value in units of 10^-exponent, rounded up (``Value()`` is 0, ``MilliValue()`` 3)."""
    value = quantity.value if quantity is not None else Decimal(0)
    return int(value.scaleb(exponent).to_integral_value(ROUND_CEILING))


class LimitRangerDefaults(Admission):
    """LimitRanger's mutating half (``PodMutateLimitFunc``) on a Pod's create; kube runs it on no update, where
    containers cannot change. Registered before the Pod's own hook: kube's mutating admission runs before the object
    is validated, so a default limit below a request the container sets is a 422."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        for limit_range in self._store.list(LIMITRANGES, namespace_of(obj)):
            _merge_defaults(limit_range, obj)


def _merge_defaults(limit_range: Obj, pod: Obj) -> None:
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    for item in _items(limit_range):
        if item.get("type") == CONTAINER:
            requests |= item.get("defaultRequest") or {}
            limits |= item.get("default") or {}
    told: list[str] = []
    for field, prefix in zip(CONTAINER_LISTS, ("container", "init container"), strict=True):
        for container in spec_of(pod).get(field) or []:
            if isinstance(container, dict):
                told += _merge_container(container, requests, limits, f"{prefix} {container.get('name', '')}")
    if told:
        told_by = "LimitRanger plugin set: " + "; ".join(told)
        meta(pod)["annotations"] = {**(meta(pod).get("annotations") or {}), ANNOTATION: told_by}


def _merge_container(container: Obj, requests: dict[str, str], limits: dict[str, str], who: str) -> list[str]:
    """``mergeContainerResources``: what the container lacks, taken from the defaults; what it set, told."""
    resources = container.get("resources") or {}
    has_limits, has_requests = resources.get("limits") or {}, resources.get("requests") or {}
    set_limits = sorted(name for name in limits if name not in has_limits)
    # a limit is a request already (SetDefaults_Pod ran as kube decoded the pod), so no default request replaces it
    set_requests = sorted(name for name in requests if name not in has_limits and name not in has_requests)
    if set_limits or set_requests:  # new maps: the pod's own may be shared with whoever built it
        container["resources"] = merged = dict(resources)
        if set_limits:
            merged["limits"] = {**has_limits, **{name: limits[name] for name in set_limits}}
        if set_requests:
            merged["requests"] = {**has_requests, **{name: requests[name] for name in set_requests}}
    told = [f"{', '.join(set_requests)} request for {who}"] if set_requests else []
    return told + ([f"{', '.join(set_limits)} limit for {who}"] if set_limits else [])


class LimitRangerBounds(Admission):
    """LimitRanger's validating half (``PodValidateLimitFunc``, ``PersistentVolumeClaimValidateLimitFunc``): 403,
    naming the violations of the first LimitRange that has any. Registered after the kinds' own hooks and before
    ResourceQuota's, in the order kube runs its validating plugins."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        self._check(rtype, obj, None)

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        # Pods: never on update. An object being deleted is let be.
        if rtype.resource != PODS.resource and not meta(old).get("deletionTimestamp"):
            self._check(rtype, new, old)

    def _check(self, rtype: ResourceType, obj: Obj, old: Obj | None) -> None:
        pod = rtype.resource == PODS.resource
        for limit_range in self._store.list(LIMITRANGES, namespace_of(obj)):
            found = _pod_violations(limit_range, obj) if pod else _claim_violations(limit_range, obj, old)
            if found:
                raise errors.forbidden(rtype.resource, name_of(obj), _aggregate(found))


def _aggregate(found: list[str]) -> str:
    """``utilerrors.NewAggregate(...).Error()``: one message as it is, several in brackets, each once."""
    once = list(dict.fromkeys(found))
    return once[0] if len(once) == 1 else "[" + ", ".join(once) + "]"


def _pod_violations(limit_range: Obj, pod: Obj) -> list[str]:
    spec, found = spec_of(pod), []
    for item in _items(limit_range):
        kind = item.get("type")
        if kind == CONTAINER:
            for field in CONTAINER_LISTS:
                for container in spec.get(field) or []:
                    found += _violations(item, CONTAINER, wanted(container, "requests"), wanted(container, "limits"))
        elif kind == POD:
            found += _violations(item, POD, pod_sum(spec, "requests"), pod_sum(spec, "limits"))
    return found


def _violations(item: Obj, kind: str, requests: Usage, limits: Usage) -> list[str]:
    """One Container or Pod item against what is asked: ``min``, then ``max``, then ``maxLimitRequestRatio``."""
    found = [_below_min(kind, name, q, requests, limits) for name, q in sorted(parsed(item.get("min")).items())]
    found += [_above_max(kind, name, q, requests, limits) for name, q in sorted(parsed(item.get("max")).items())]
    ratios = parsed(item.get("maxLimitRequestRatio"))
    found += [_over_ratio(kind, name, q, requests, limits) for name, q in sorted(ratios.items())]
    return [why for why in found if why]


def _claim_violations(limit_range: Obj, claim: Obj, old: Obj | None) -> list[str]:
    """Storage asked (``spec.resources.requests``) against ``min`` and ``max``; on an update, only what it changes."""
    requests = parsed((spec_of(claim).get("resources") or {}).get("requests"))
    before = parsed((spec_of(old).get("resources") or {}).get("requests")) if old is not None else {}
    found = []
    for item in _items(limit_range):
        if item.get("type") != CLAIM:
            continue
        for name, floor in sorted(parsed(item.get("min")).items()):
            if not _unchanged(name, requests, before):
                found.append(_below_min(CLAIM, name, floor, requests, {}))
        for name, ceiling in sorted(parsed(item.get("max")).items()):
            if not _unchanged(name, requests, before):
                found.append(_above_max(CLAIM, name, ceiling, requests, None))
    return [why for why in found if why]


def _unchanged(name: str, requests: Usage, before: Usage) -> bool:
    return name in requests and name in before and requests[name].value == before[name].value


def _common_precision(request: Quantity | None, limit: Quantity | None, bound: Quantity) -> tuple[int, int, int]:
    """``requestLimitEnforcedValues``: milli-units unless one of the three would overflow them, else whole units."""
    whole = (_scaled(request, 0), _scaled(limit, 0), _scaled(bound, 0))
    if max(whole) <= _MAX_MILLI:
        return _scaled(request, 3), _scaled(limit, 3), _scaled(bound, 3)
    return whole


def _below_min(kind: str, name: str, floor: Quantity, requests: Usage, limits: Usage) -> str:
    request, limit = requests.get(name), limits.get(name)
    asked, capped, bound = _common_precision(request, limit, floor)
    if request is None:
        return f"minimum {name} usage per {kind} is {floor}.  No request is specified"
    if asked < bound:
        return f"minimum {name} usage per {kind} is {floor}, but request is {request}"
    if limit is not None and capped < bound:
        return f"minimum {name} usage per {kind} is {floor}, but limit is {limit}"
    return ""


def _above_max(kind: str, name: str, ceiling: Quantity, requests: Usage, limits: Usage | None) -> str:
    """``maxConstraint``; with no ``limits`` (a claim's, ``maxRequestConstraint``) the request is what is bounded."""
    request, limit = requests.get(name), (limits or {}).get(name)
    asked, capped, bound = _common_precision(request, limit, ceiling)
    if limits is None:
        if request is None:
            return f"maximum {name} usage per {kind} is {ceiling}.  No request is specified"
        return f"maximum {name} usage per {kind} is {ceiling}, but request is {request}" if asked > bound else ""
    if limit is None:
        return f"maximum {name} usage per {kind} is {ceiling}.  No limit is specified"
    if capped > bound:
        return f"maximum {name} usage per {kind} is {ceiling}, but limit is {limit}"
    if request is not None and asked > bound:
        return f"maximum {name} usage per {kind} is {ceiling}, but request is {request}"
    return ""


def _over_ratio(kind: str, name: str, ratio: Quantity, requests: Usage, limits: Usage) -> str:
    request, limit = requests.get(name), limits.get(name)
    asked, capped, _ = _common_precision(request, limit, ratio)
    said = f"{name} max limit to request ratio per {kind} is {ratio}"
    if request is None or asked == 0:
        return f"{said}, but no request is specified or request is 0"
    if limit is None or capped == 0:
        return f"{said}, but no limit is specified or limit is 0"
    observed = shown = float(capped) / float(asked)
    allowed = float(_scaled(ratio, 0))
    if _scaled(ratio, 0) <= _MAX_MILLI:  # compared in milli-units, as kube does, shown as the plain ratio
        observed, allowed = observed * 1000, float(_scaled(ratio, 3))
    return f"{said}, but provided ratio is {shown:f}" if observed > allowed else ""
