"""Filter: the instance's namespace must have room under the cluster's ResourceQuotas for a member, and the
members must set what those quotas count; the room bounds how many members the cluster may hold.

Kubernetes' quota admission refuses a member's pod (or its claim) that would take a quota past its limit, or
that does not set the cpu or memory a quota counts; the StatefulSet then waits for a pod that never comes. The
collector reports what each namespace's quotas still allow (``ClusterSnapshot.quotas``); members promised to
placements of the same namespace and not yet running are deducted from it, as their pods and requests."""

from __future__ import annotations

from collections.abc import Mapping

from fedstate.models.cluster import QuotaLeft

from .. import units
from ..framework import Candidate, Context, Rejection, Scope
from ..request import quota_charge

NAME = "NamespaceQuota"
# How a figure of each quota resource reads in a reason.
_SHOWN = {
    "requests.cpu": units.cpu,
    "limits.cpu": units.cpu,
    "requests.memory": units.memory,
    "limits.memory": units.memory,
    "requests.storage": units.memory,
}


class NamespaceQuota:
    name = NAME
    scope: Scope = "cluster"

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection:
        quota = candidate.snapshot.quotas.get(ctx.namespace)
        if quota is None:
            return candidate
        charge = quota_charge(ctx.spec, quota.defaults)
        unset = sorted(resource for resource in quota.left if resource in charge and charge[resource] is None)
        if unset:
            counted = quota.left[unset[0]].quota
            return Rejection(
                NAME,
                "quota needs values the members do not set",
                f"ResourceQuota {counted} in namespace {ctx.namespace} counts {', '.join(unset)}, "
                "which every container of a member must then set",
            )
        room = _room_left(quota.left, ctx, candidate.name)
        fits, short = None, ""
        for resource, left in sorted(room.items()):
            need = charge.get(resource)
            if not need:
                continue
            members = max(0, left) // need
            if fits is None or members < fits:
                fits = members
                show = _SHOWN.get(resource, str)
                short = (
                    f"ResourceQuota {quota.left[resource].quota} in namespace {ctx.namespace}: {resource} "
                    f"{show(max(0, left))} left, a member needs {show(need)}"
                )
        if fits is None:
            return candidate
        held = ctx.current.get(candidate.name, 0)
        if fits + held == 0:
            return Rejection(NAME, "namespace quota exhausted", short)
        return candidate.capped(fits + held)


def _room_left(left: Mapping[str, QuotaLeft], ctx: Context, cluster: str) -> dict[str, int]:
    """The quotas' room less what members promised in the namespace, not running yet, will take: their pods,
    claims and requests (a promise carries no limits or storage)."""
    room = {resource: entry.room for resource, entry in left.items()}
    for reservation in ctx.reservations.get(cluster, ()):
        if reservation.namespace != ctx.namespace:
            continue
        for resource, each in (
            ("pods", 1),
            ("persistentvolumeclaims", 1),
            ("requests.cpu", reservation.shape.cpu_millis),
            ("requests.memory", reservation.shape.memory_bytes),
        ):
            if resource in room:
                room[resource] -= reservation.members * each
    return room
