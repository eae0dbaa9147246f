"""Pure functions of the StatefulSet controller: revision hash, the Pod and PVC an ordinal gets,
which single step to take next, and the status that follows from the observed pods.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from fedstate_sim.kube.meta import Obj, clone, condition_true, labels_of, meta, name_of, owner_reference, spec_of

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


_HASHES: dict[int, tuple[Obj, str]] = {}  # id(template) → (template, hash); the entry keeps the id taken
_MAX_HASHES = 16_384


def revision(sts: Obj) -> str:
    """``<sts>-<hash of the pod template>``, like the ControllerRevision name kube uses."""
    return f"{name_of(sts)}-{template_hash(spec_of(sts).get('template') or {})}"


def template_hash(template: Obj) -> str:
    """Remembered per template object: stored objects are never changed in place (see ``meta``), and
    the controller asks for the same StatefulSet's revision several times per reconcile."""
    cached = _HASHES.get(id(template))
    if cached is not None and cached[0] is template:
        return cached[1]
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
    if len(_HASHES) >= _MAX_HASHES:
        _HASHES.clear()
    _HASHES[id(template)] = (template, digest)
    return digest


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{name_of(sts)}-{ordinal}"


def claim_name(template: Obj, sts: Obj, ordinal: int) -> str:
    return f"{meta(template)['name']}-{name_of(sts)}-{ordinal}"


def ordinal_of(sts: Obj, pod: Obj) -> int | None:
    prefix, name = f"{name_of(sts)}-", name_of(pod)
    suffix = name[len(prefix) :]
    return int(suffix) if name.startswith(prefix) and suffix.isdigit() else None


def is_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and condition_true(pod, "Ready")


def claim_templates(sts: Obj) -> list[Obj]:
    return list(spec_of(sts).get("volumeClaimTemplates") or [])


def new_pod(sts: Obj, ordinal: int) -> Obj:
    template = clone(spec_of(sts).get("template") or {})
    name, tmeta = pod_name(sts, ordinal), template.get("metadata") or {}
    labels = {
        **(tmeta.get("labels") or {}),
        REVISION_LABEL: revision(sts),
        POD_NAME_LABEL: name,
        POD_INDEX_LABEL: str(ordinal),
    }
    spec = template.get("spec") or {}
    spec["hostname"] = name
    if spec_of(sts).get("serviceName"):
        spec["subdomain"] = spec_of(sts)["serviceName"]
    claims = {meta(t)["name"]: claim_name(t, sts, ordinal) for t in claim_templates(sts)}
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    spec["volumes"] = volumes + [{"name": v, "persistentVolumeClaim": {"claimName": c}} for v, c in claims.items()]
    metadata = {"name": name, "labels": labels, "ownerReferences": [owner_reference(sts)]}
    if tmeta.get("annotations"):
        metadata["annotations"] = tmeta["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def new_claim(sts: Obj, template: Obj, ordinal: int) -> Obj:
    selector_labels = (spec_of(sts).get("selector") or {}).get("matchLabels") or {}
    metadata: Obj = {
        "name": claim_name(template, sts, ordinal),
        "labels": {**selector_labels, **labels_of(template)},
    }
    if meta(template).get("annotations"):
        metadata["annotations"] = meta(template)["annotations"]
    policy = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    if policy.get("whenDeleted") == "Delete":
        metadata["ownerReferences"] = [owner_reference(sts, controller=False)]
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata, "spec": clone(spec_of(template))}


@dataclass(frozen=True)
class Step:
    action: str  # "create" | "delete" | "none"
    ordinals: tuple[int, ...] = ()


def is_terminating(pod: Obj) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def next_step(sts: Obj, pods: dict[int, Obj]) -> Step:
    """The next change: condemn extra pods, create missing ones, then roll outdated ones. A terminating pod is
    never deleted again, and its ordinal is not created again before it is gone; with ``OrderedReady`` nothing
    else happens while one terminates (kube's "waiting for Pod to terminate")."""
    replicas = int(spec_of(sts).get("replicas", 1))
    parallel = spec_of(sts).get("podManagementPolicy") == "Parallel"
    if not parallel and any(is_terminating(p) for p in pods.values()):
        return Step("none")
    extra = sorted((o for o in pods if o >= replicas and not is_terminating(pods[o])), reverse=True)
    if extra:
        return Step("delete", tuple(extra) if parallel else (extra[0],))
    missing = [o for o in range(replicas) if o not in pods]
    if missing:
        if parallel:
            return Step("create", tuple(missing))
        first = missing[0]
        if all(is_ready(pods[o]) for o in range(first)):
            return Step("create", (first,))
        return Step("none")
    return _rolling_step(sts, pods, replicas)


def _rolling_step(sts: Obj, pods: dict[int, Obj], replicas: int) -> Step:
    strategy = spec_of(sts).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return Step("none")
    if not all(is_ready(pods[o]) and not is_terminating(pods[o]) for o in range(replicas)):
        return Step("none")
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    target = revision(sts)
    outdated = [o for o in range(replicas - 1, partition - 1, -1) if labels_of(pods[o]).get(REVISION_LABEL) != target]
    return Step("delete", (outdated[0],)) if outdated else Step("none")


def status_for(sts: Obj, pods: dict[int, Obj]) -> Obj:
    update_rev = revision(sts)
    previous = sts.get("status") or {}
    current_rev = previous.get("currentRevision") or update_rev
    revisions = [labels_of(p).get(REVISION_LABEL) for p in pods.values()]
    ready = sum(1 for p in pods.values() if is_ready(p))
    updated = revisions.count(update_rev)
    if updated == len(pods) == int(spec_of(sts).get("replicas", 1)) and ready == updated:
        current_rev = update_rev
    return {
        "observedGeneration": meta(sts).get("generation", 1),
        "replicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": revisions.count(current_rev),
        "updatedReplicas": updated,
        "currentRevision": current_rev,
        "updateRevision": update_rev,
        "collisionCount": 0,
    }
