"""Which member restarts next when a cluster's revision changes (image, resources, mongod config, ...).

MongoDB's rolling-upgrade procedure, federation-wide: secondaries first, the primary stepped down and
restarted last; a restart starts only while every member is healthy, so never more than one voting
member is down at a time, and each restarted member is back as SECONDARY before the next one goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .configsteps import HEALTHY


@dataclass(frozen=True)
class RollMember:
    ordinal: int
    cluster: str
    state: str  # the member's own stateStr: PRIMARY, SECONDARY, ARBITER, STARTUP2, DOWN, ...
    ready: bool  # its pod is Ready
    running: str  # the revision its pod runs ("" while it has no pod)
    wanted: str  # the revision its cluster's data-plane spec asks for
    voting: bool = True
    electable: bool = True  # priority > 0

    @property
    def healthy(self) -> bool:
        return self.ready and bool(self.running) and self.state in HEALTHY

    @property
    def label(self) -> str:
        return f"m{self.ordinal} ({self.cluster})"


@dataclass(frozen=True)
class RollStep:
    """Restart one member, or step one primary down first, or wait (and why), or done."""

    restart: RollMember | None = None
    step_down: RollMember | None = None
    action: str = ""
    done: bool = False


def _order(member: RollMember) -> tuple[bool, bool, str, int]:
    """Non-voters, then voting secondaries, cluster by cluster; the primary last."""
    return (member.state == "PRIMARY", member.voting, member.cluster, member.ordinal)


def next_restart(members: Sequence[RollMember]) -> RollStep:
    outdated = sorted((m for m in members if m.running != m.wanted), key=_order)
    if not outdated:
        return RollStep(done=True, action=f"all {len(members)} members run their cluster's revision")
    progress = f"{len(members) - len(outdated)} of {len(members)} members updated"
    unhealthy = sorted((m for m in members if not m.healthy), key=lambda m: (m.cluster, m.ordinal))
    if unhealthy:
        first = unhealthy[0]
        now = first.state if first.ready else "not ready"
        return RollStep(action=f"{progress}; waiting for {first.label} to be healthy again (now {now})")
    member = outdated[0]
    if member.state == "PRIMARY":
        others = [m for m in members if m is not member and m.voting and m.electable and m.state == "SECONDARY"]
        if others:
            return RollStep(step_down=member, action=f"{progress}; stepping down {member.label}, the PRIMARY, last")
    return RollStep(restart=member, action=f"{progress}; restarting {member.label} with revision {member.wanted}")
