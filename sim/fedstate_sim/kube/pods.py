"""Pod admission: defaulting on create and update, and ``ValidatePodUpdate``'s rule that a Pod's spec
is fixed once created except container images, ``activeDeadlineSeconds`` (set, or lowered),
added tolerations, removed scheduling gates and a negative ``terminationGracePeriodSeconds`` set to 1.
Anything else is a 422 ``spec: Forbidden: pod updates may not change fields other than ...`` followed
by what differs. The node a Pod runs on is set through the ``binding`` subresource, which the
scheduler uses, never by an update.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from kubernetes.utils import parse_quantity

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.errors import FORBIDDEN, INVALID, NOT_SUPPORTED, REQUIRED, FieldError
from fedstate_sim.kube.meta import Obj, clone, meta, spec_of, status_of
from fedstate_sim.kube.resources import ResourceType
from fedstate_sim.kube.validation import label_value, qualified_name

CONTAINER_LISTS = ("containers", "initContainers")
QUANTITY = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
MAX_INT32 = 2**31 - 1
UPDATABLE = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


class PodAdmission(Admission):
    def grace_on_delete(self, rtype: ResourceType, obj: Obj, requested: int | None) -> int:
        """kube-apiserver's pod strategy: a pod bound to no node, or finished, goes at once; a running one stays,
        terminating, for the grace requested, else its ``terminationGracePeriodSeconds`` (a negative one is 1)."""
        if not spec_of(obj).get("nodeName") or status_of(obj).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(requested, 0)
        period = spec_of(obj).get("terminationGracePeriodSeconds")
        return 30 if not isinstance(period, int) else max(period, 1)

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        spec = default_spec(obj)
        _refuse("Pod", meta(obj)["name"], _container_errors(spec) + pod_spec_errors(spec, "spec"))
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        _refuse("Pod", meta(new)["name"], update_errors(spec_of(old), default_spec(new)))


def default_spec(obj: Obj) -> Obj:
    """What kube-apiserver fills in when decoding a Pod, on create and on update alike."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("enableServiceLinks", True)
    for field in CONTAINER_LISTS:
        for container in spec.get(field) or []:
            container.setdefault("imagePullPolicy", "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
    return spec


def _refuse(kind: str, name: str, errs: list[FieldError]) -> None:
    if errs:
        raise errors.invalid_object(kind, name, errs)


def _container_errors(spec: Obj) -> list[FieldError]:
    containers = spec.get("containers") or []
    if not containers:
        return [FieldError(REQUIRED, "spec.containers")]
    return [
        FieldError(REQUIRED, f"spec.{field}[{index}].{key}")
        for field in CONTAINER_LISTS
        for index, container in enumerate(spec.get(field) or [])
        for key in ("name", "image")
        if not container.get(key)
    ]


def pod_spec_errors(spec: Obj, path: str) -> list[FieldError]:
    """What ``ValidatePodSpec`` checks of a Pod's spec (or a template's, at ``path``) beyond names and images: the
    containers' resource quantities and the tolerations."""
    return container_resource_errors(spec, path) + toleration_errors(
        spec.get("tolerations") or [], f"{path}.tolerations"
    )


EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def toleration_errors(tolerations: list[Any], path: str) -> list[FieldError]:
    """``ValidateTolerations``: a key is a qualified name, and an empty one only with ``Exists``; the operator is
    ``Equal`` (a label value) or ``Exists`` (no value); ``tolerationSeconds`` only with ``NoExecute``."""
    errs = []
    for index, toleration in enumerate(tolerations):
        at = f"{path}[{index}]"
        key, operator = toleration.get("key") or "", toleration.get("operator") or ""
        value, effect = toleration.get("value") or "", toleration.get("effect") or ""
        errs += [FieldError(INVALID, f"{at}.key", problem, key) for problem in (qualified_name(key) if key else [])]
        if not key and operator != "Exists":
            why = 'operator must be Exists when `key` is empty, which means "match all values and all keys"'
            errs.append(FieldError(INVALID, f"{at}.operator", why, operator))
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(
                FieldError(
                    INVALID, f"{at}.effect", "effect must be 'NoExecute' when `tolerationSeconds` is set", effect
                )
            )
        if operator in ("", "Equal"):
            errs += [FieldError(INVALID, f"{at}.operator", problem, value) for problem in label_value(value)]
        elif operator == "Exists":
            if value:
                errs.append(
                    FieldError(INVALID, f"{at}.operator", "value must be empty when `operator` is 'Exists'", value)
                )
        else:
            errs.append(FieldError(NOT_SUPPORTED, f"{at}.operator", 'supported values: "Equal", "Exists"', operator))
        if effect and effect not in EFFECTS:
            supported = ", ".join(f'"{e}"' for e in EFFECTS)
            errs.append(FieldError(NOT_SUPPORTED, f"{at}.effect", f"supported values: {supported}", effect))
    return errs


def quantity_value(text: Any) -> Decimal:
    """A quantity as the API server decodes it: one it cannot parse fails the whole request (400)."""
    try:
        return Decimal(parse_quantity(text))
    except ValueError as exc:
        raise errors.bad_request(f"quantities must match the regular expression {QUANTITY!r}") from exc


def container_resource_errors(spec: Obj, path: str) -> list[FieldError]:
    """``ValidateResourceRequirements`` for each container of a pod spec (a Pod's, a template's at ``path``): no
    quantity below 0, no request above its limit."""
    errs = []
    for field in CONTAINER_LISTS:
        for index, container in enumerate(spec.get(field) or []):
            at = f"{path}.{field}[{index}].resources"
            resources = container.get("resources") or {}
            limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
            for side, values in (("limits", limits), ("requests", requests)):
                errs += [
                    FieldError(INVALID, f"{at}.{side}[{name}]", "must be greater than or equal to 0", text)
                    for name, text in values.items()
                    if quantity_value(text) < 0
                ]
            errs += [
                FieldError(
                    INVALID, f"{at}.requests", f"must be less than or equal to {name} limit of {limits[name]}", text
                )
                for name, text in requests.items()
                if name in limits and quantity_value(text) > quantity_value(limits[name])
            ]
    return errs


def update_errors(old: Obj, new: Obj) -> list[FieldError]:
    """``ValidatePodUpdate`` for the spec: the fields that may change checked first, then everything else."""
    for field in CONTAINER_LISTS:
        if len(old.get(field) or []) != len(new.get(field) or []):
            return [FieldError(FORBIDDEN, f"spec.{field}", "pod updates may not add or remove containers")]
    errs = _container_errors(new) + _deadline_errors(old, new) + _toleration_errors(old, new) + _gate_errors(old, new)
    if errs:
        return errs
    munged = _with_mutable_fields_of(old, new)
    if munged == old:
        return []
    return [FieldError(FORBIDDEN, "spec", f"{UPDATABLE}\n{spec_diff(old, munged)}")]


def _deadline_errors(old: Obj, new: Obj) -> list[FieldError]:
    before, after = old.get("activeDeadlineSeconds"), new.get("activeDeadlineSeconds")
    field = "spec.activeDeadlineSeconds"
    if after is None:
        return (
            []
            if before is None
            else [FieldError(INVALID, field, "must not update from a positive integer to nil value", None)]
        )
    if not isinstance(after, int) or not 0 <= after <= MAX_INT32:
        return [FieldError(INVALID, field, f"must be between 0 and {MAX_INT32}, inclusive", after)]
    if before is not None and before < after:
        return [FieldError(INVALID, field, "must be less than or equal to previous value", after)]
    return []


def _toleration_errors(old: Obj, new: Obj) -> list[FieldError]:
    """Only additions: every existing toleration stays, its ``tolerationSeconds`` aside."""
    kept = [_without_seconds(t) for t in new.get("tolerations") or []]
    if all(_without_seconds(t) in kept for t in old.get("tolerations") or []):
        return []
    why = "existing toleration can not be modified except its tolerationSeconds"
    return [FieldError(FORBIDDEN, "spec.tolerations", why)]


def _without_seconds(toleration: Any) -> Any:
    return (
        {k: v for k, v in toleration.items() if k != "tolerationSeconds"}
        if isinstance(toleration, dict)
        else toleration
    )


def _gate_errors(old: Obj, new: Obj) -> list[FieldError]:
    """Scheduling gates can only be removed."""
    before = old.get("schedulingGates") or []
    if all(gate in before for gate in new.get("schedulingGates") or []):
        return []
    return [FieldError(FORBIDDEN, "spec.schedulingGates", "only deletion is allowed, but found new scheduling gate")]


def _with_mutable_fields_of(old: Obj, new: Obj) -> Obj:
    """``new`` with every field a Pod update may change put back as ``old`` has it."""
    munged = clone(new)
    for field in CONTAINER_LISTS:
        for container, before in zip(munged.get(field) or [], old.get(field) or [], strict=True):
            container["image"] = before.get("image")
    for field in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        if field in old:
            munged[field] = old[field]
        else:
            munged.pop(field, None)
    grace = old.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = grace
    return munged


def spec_diff(old: Obj, new: Obj) -> str:
    """The top-level spec fields that differ, one ``-``/``+`` pair each (kube prints a Go ``cmp.Diff``)."""
    lines = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            lines += [f"-  {key}: {errors.go_value(old.get(key))}", f"+  {key}: {errors.go_value(new.get(key))}"]
    return "\n".join(lines)


def qos_class(spec: Obj) -> str:
    resources = [c.get("resources") or {} for c in spec.get("containers") or []]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    return "Guaranteed" if all(_guaranteed(r) for r in resources) else "Burstable"


def _guaranteed(resources: Obj) -> bool:
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    return all(limits.get(key) and requests.get(key, limits[key]) == limits[key] for key in ("cpu", "memory"))


def claims_of(pod: Obj) -> Iterator[str]:
    """The PersistentVolumeClaims a pod mounts, in the order of its volumes."""
    for volume in spec_of(pod).get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            yield str(claim)
