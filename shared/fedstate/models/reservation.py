"""``ClusterReservations``: the scheduler's in-flight promises on one member cluster, in ``fs-reservations``.

One key per cluster, so every promise on a cluster is in one value written with compare-and-set: two
schedulers (or one restarted) that decide at once cannot both fill the same room (the second write fails,
and its writer decides again with the first one's promise deducted).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from .base import WireModel


class Promise(WireModel):
    """Room held on a cluster for members a placement put there, until they run there or ``expires_at``.

    An expiry in the value rather than a per-key TTL: one key holds many promises, each with its own expiry,
    and a stale promise is harmless (it counts nothing once expired) until the next write drops it.
    """

    owner: str  # the instance's spec key
    namespace: str
    name: str
    members: int  # the members the placement puts on this cluster: the promise is kept until they all run
    promised: int  # of those, how many it added (at most this many are missing from the snapshot)
    cpu_millis: int = 0  # one member's requests
    memory_bytes: int = 0
    expires_at: datetime


class ClusterReservations(WireModel):
    cluster: str
    promises: list[Promise] = Field(default_factory=list)
