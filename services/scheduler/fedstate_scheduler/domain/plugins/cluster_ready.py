"""Filter: only clusters whose collector heartbeat is fresh can take members."""

from __future__ import annotations

from fedstate.models.cluster import ClusterHealth

from ..framework import Candidate, Context, Rejection, Scope

NAME = "ClusterReady"


class ClusterReady:
    name = NAME
    scope: Scope = "cluster"

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection:
        """A cluster is Ready while its snapshot is younger than the failure threshold."""
        snapshot = candidate.snapshot
        if snapshot.health(ctx.now, ctx.failure_threshold) is ClusterHealth.READY:
            return candidate
        # The heartbeat's time, not its age: the explanation stays the same while nothing changes,
        # so retrying an unschedulable placement does not rewrite it on every pass.
        last = snapshot.observed_at.isoformat(timespec="seconds")
        limit = ctx.failure_threshold.total_seconds()
        return Rejection(NAME, "cluster not ready", f"no heartbeat for over {limit:.0f}s (last at {last})")
