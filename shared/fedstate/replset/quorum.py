"""Has a replica set lost its voting majority, who survived, and the config a forced recovery installs.

A set has lost its quorum when no member of its config is PRIMARY and the voters that answer (PRIMARY,
SECONDARY, ARBITER, or syncing, recovering, rolling back) are fewer than a majority of its voters: no election can succeed until lost members
come back. A member counts as lost once its own agent says it is down, or once its agent has been silent
for the failure threshold (the orchestrator then reports it DOWN): that threshold is the debounce, so a
member restarting or an election under way never looks like a lost majority.

Recovery is MongoDB's disaster procedure: ``replSetReconfig`` with ``force: true`` on the freshest surviving
data member (the highest optime), with a config that keeps only the survivors. Writes that no survivor holds
are lost; new members then join one voter at a time, as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fedstate.models.replicaset import OpTime, RsConfig

from .configsteps import HEALTHY, WantedMember, desired_config

# Up, in the set and able to vote: a member syncing (STARTUP2), recovering or rolling back still answers
# heartbeats and votes; only members that do not answer (DOWN, UNKNOWN) or are outside the set are lost.
ANSWERING = HEALTHY | frozenset({"STARTUP2", "RECOVERING", "ROLLBACK"})


@dataclass(frozen=True)
class Survivor:
    ordinal: int
    host: str
    state: str
    optime: OpTime | None  # None: it did not say (an arbiter holds no data)
    arbiter: bool = False


@dataclass(frozen=True)
class QuorumLoss:
    """The set cannot elect a PRIMARY: ``reachable`` of ``voters`` voters answer, a majority is ``majority``."""

    voters: int
    reachable: int
    survivors: tuple[Survivor, ...]
    lost: tuple[int, ...]  # ordinals of the config's members that do not answer

    @property
    def majority(self) -> int:
        return majority(self.voters)

    @property
    def freshest(self) -> Survivor | None:
        """The surviving data member holding the most writes (highest optime; lowest ordinal on a tie)."""
        data = [s for s in self.survivors if not s.arbiter]
        if not data:
            return None
        return max(data, key=lambda s: (s.optime.key() if s.optime else (-1, -1, -1), -s.ordinal))

    def describe(self) -> str:
        """In a few words, for a condition, an event and a refusal."""
        alive = ", ".join(_described(s) for s in self.survivors) or "none"
        return (
            f"{self.reachable} of {self.voters} voters reachable, a majority needs {self.majority}; "
            f"surviving members: {alive}"
        )


def _described(survivor: Survivor) -> str:
    if survivor.arbiter:
        return f"m{survivor.ordinal} {survivor.host} (ARBITER)"
    optime = survivor.optime.describe() if survivor.optime else "unknown"
    return f"m{survivor.ordinal} {survivor.host} ({survivor.state}, optime {optime})"


def majority(voters: int) -> int:
    return voters // 2 + 1


def quorum_loss(
    config: RsConfig, states: Mapping[int, str], optimes: Mapping[int, OpTime], *, primary_seen: bool = False
) -> QuorumLoss | None:
    """The loss, or None while a PRIMARY exists or a majority of voters answers (an election can still win).

    ``primary_seen``: a survivor's own view of the set (replSetGetStatus) shows a healthy PRIMARY. The
    federation may have lost sight of members whose set still works (their agents cut off from the bus, not
    from each other); a set whose survivors see a PRIMARY has not lost its majority, whatever the bus says."""
    voters = config.voters()
    if not voters or primary_seen or any(states.get(m.id) == "PRIMARY" for m in config.members):
        return None
    reachable = sum(1 for m in voters if states.get(m.id) in ANSWERING)
    if reachable >= majority(len(voters)):
        return None
    # Survivors are the members a forced config can keep: the ones in a sane state (SECONDARY, ARBITER).
    survivors = tuple(
        Survivor(m.id, m.host, states[m.id], optimes.get(m.id), m.arbiter_only)
        for m in config.members
        if states.get(m.id) in HEALTHY
    )
    lost = tuple(m.id for m in config.members if states.get(m.id) not in ANSWERING)
    return QuorumLoss(len(voters), reachable, survivors, lost)


def recovery_config(config: RsConfig, loss: QuorumLoss) -> RsConfig | None:
    """The config to force on the freshest survivor: only the survivors, the freshest voting and electable;
    its version one above the current one (mongod raises a forced version by a large random amount anyway).
    None when no data member survived: nothing to recover from."""
    freshest = loss.freshest
    if freshest is None:
        return None
    voting = {m.id for m in config.members if m.votes}
    wanted = [
        WantedMember(s.ordinal, s.host, s.ordinal in voting or s.ordinal == freshest.ordinal, arbiter=s.arbiter)
        for s in loss.survivors
    ]
    return desired_config(config.id, wanted, config.version + 1)
