"""Failover held while most clusters are silent at once: more likely the federation's view is cut than they all died.

Failover moves a silent cluster's members elsewhere. When most of the clusters that hold members fall silent
together, the likelier fault is on the federation's side — its NATS link, an overloaded shared network, the
collectors' API probes timing out under load — and moving members would only pile them onto the few clusters
still heard from, while the silent ones come back with members of their own. Kubernetes' node lifecycle
controller stops evicting pods for the same reason when a zone is more than 55 % NotReady
(``--unhealthy-zone-threshold``). So: while more than ``hold_fraction`` of the clusters holding members, and at
least ``MIN_SILENT`` of them, are silent past the failover delay, failover waits; one cluster dying alone is
moved off as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_HOLD_FRACTION = 0.55
MIN_SILENT = 3  # one or two clusters failing together (a region of two) is a failure to move off, not a cut view


@dataclass(frozen=True)
class Disruption:
    silent: int
    in_use: int

    def describe(self, failover_after: timedelta) -> str:
        return (
            f"failover held: {self.silent} of {self.in_use} clusters holding members sent no heartbeat for over "
            f"{int(failover_after.total_seconds())}s at once; the federation's view is more likely cut than all "
            "of them failed"
        )


def disruption(
    heard_at: Mapping[str, datetime | None],
    now: datetime,
    failover_after: timedelta,
    hold_fraction: float = DEFAULT_HOLD_FRACTION,
) -> Disruption | None:
    """``heard_at``: each cluster holding members → its last heartbeat (None: never heard of). A disruption
    when more than ``hold_fraction`` of them, and at least ``MIN_SILENT``, are silent past ``failover_after``."""
    silent = sum(1 for at in heard_at.values() if at is None or now - at > failover_after)
    if silent < MIN_SILENT or silent <= hold_fraction * len(heard_at):
        return None
    return Disruption(silent, len(heard_at))
