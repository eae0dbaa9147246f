"""From the replica-set config MongoDB runs to the one we want, one safe reconfig at a time.

MongoDB's rules (``mongodb-rules.md``): a non-forced reconfig adds, removes or re-votes at most ONE
voting member; a new member joins with ``votes: 0, priority: 0`` and is promoted only once it is
SECONDARY (initial sync done); a primary is stepped down before it is removed or demoted; never more
than 7 voters. On top of that we never take a step after which the voters that answer would not form
a majority, so a reconfig can always be committed.

``plan_config_step(current, desired, states)`` says what to do next: install a config (its version
is the current one + 1), step a primary down, wait (and why), or nothing (in sync).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fedstate.models.replicaset import MAX_VOTERS, RsConfig, RsMember

HEALTHY = frozenset({"PRIMARY", "SECONDARY", "ARBITER"})
# What an arbiter answers before it has a config: reachable, waiting to be added.
ARBITER_READY = frozenset({"STARTUP", "ARBITER"})

States = Mapping[int, str]


@dataclass(frozen=True)
class WantedMember:
    """One member of the set we want: its ``_id`` (the stable ordinal), its address and its role."""

    ordinal: int
    host: str
    voting: bool
    arbiter: bool = False


def rs_member(ordinal: int, host: str, *, votes: int, priority: float, arbiter: bool = False) -> RsMember:
    return RsMember.model_validate(
        {"_id": ordinal, "host": host, "votes": votes, "priority": priority, "arbiterOnly": arbiter}
    )


def desired_config(name: str, members: Iterable[WantedMember], version: int = 1) -> RsConfig:
    """Voters get votes 1 / priority 1, an arbiter votes 1 / priority 0, everybody else votes 0 / priority 0.

    At most 7 members vote: the arbiter first, then voting members by ordinal; the rest are non-voting.
    """
    ordered = sorted(members, key=lambda m: (not m.arbiter, m.ordinal))
    seats = MAX_VOTERS
    config: list[RsMember] = []
    for wanted in ordered:
        votes = int((wanted.voting or wanted.arbiter) and seats > 0)
        seats -= votes
        priority = 1 if votes and not wanted.arbiter else 0
        config.append(rs_member(wanted.ordinal, wanted.host, votes=votes, priority=priority, arbiter=wanted.arbiter))
    config.sort(key=lambda m: m.id)
    return RsConfig.model_validate({"_id": name, "version": version, "members": config})


@dataclass(frozen=True)
class ConfigStep:
    """The next move towards the desired config: exactly one of config / step_down, or neither (wait/done)."""

    config: RsConfig | None = None
    step_down: int | None = None
    action: str = ""  # what this step does, or why nothing can be done now
    done: bool = False

    @property
    def waiting(self) -> bool:
        return not self.done and self.config is None and self.step_down is None


def _shape(member: RsMember) -> tuple[int, float, bool]:
    return (member.votes, float(member.priority), member.arbiter_only)


def _name(ordinals: Iterable[int]) -> str:
    return ", ".join(f"m{o}" for o in sorted(ordinals))


def in_sync(current: RsConfig, desired: RsConfig) -> bool:
    """Same members with the same votes, priority and arbiter role (hosts of kept members are not compared)."""
    have = {m.id: _shape(m) for m in current.members}
    want = {m.id: _shape(m) for m in desired.members}
    return have == want


def _with_members(current: RsConfig, members: Iterable[RsMember]) -> RsConfig:
    ordered = sorted(members, key=lambda m: m.id)
    return RsConfig.model_validate({"_id": current.id, "version": current.version + 1, "members": ordered})


def _primary(current: RsConfig, states: States) -> int | None:
    ids = {m.id for m in current.members}
    return next((o for o, s in sorted(states.items()) if s == "PRIMARY" and o in ids), None)


def _majority(voters: int) -> int:
    return voters // 2 + 1


def _quorum_kept(members: Iterable[RsMember], states: States) -> bool:
    """Would the voters of this config that answer healthy still form a majority?"""
    voters = [m for m in members if m.votes]
    healthy = sum(1 for m in voters if states.get(m.id) in HEALTHY)
    return healthy >= _majority(len(voters))


def _passive_step(current: RsConfig, desired: RsConfig) -> ConfigStep | None:
    """Add new data members as non-voters and drop leaving non-voters, in one reconfig (no voter changes)."""
    cur = {m.id: m for m in current.members}
    want = {m.id: m for m in desired.members}
    joining = [want[i] for i in sorted(want.keys() - cur.keys()) if not want[i].arbiter_only]
    leaving = [i for i in sorted(cur.keys() - want.keys()) if not cur[i].votes]
    # Kept members whose vote does not change but whose priority does (no voter change either).
    retuned = [
        i
        for i in sorted(cur.keys() & want.keys())
        if cur[i].votes == want[i].votes and _shape(cur[i]) != _shape(want[i])
    ]
    if not (joining or leaving or retuned):
        return None
    members = [
        cur[i].model_copy(update={"priority": want[i].priority}) if i in retuned else cur[i]
        for i in cur
        if i not in leaving
    ]
    members += [rs_member(m.id, m.host, votes=0, priority=0) for m in joining]
    parts = []
    if joining:
        parts.append(f"add {_name(m.id for m in joining)} as non-voting")
    if leaving:
        parts.append(f"remove non-voting {_name(leaving)}")
    if retuned:
        parts.append(f"set the priority of {_name(retuned)}")
    return ConfigStep(config=_with_members(current, members), action="; ".join(parts))


def _promotable(ordinal: int, cur: Mapping[int, RsMember], want: Mapping[int, RsMember], states: States) -> bool:
    if want[ordinal].arbiter_only:
        return ordinal not in cur and states.get(ordinal) in ARBITER_READY
    return ordinal in cur and states.get(ordinal) == "SECONDARY"


def _promote(current: RsConfig, want: Mapping[int, RsMember], ordinal: int, states: States) -> ConfigStep:
    target = want[ordinal]
    members = [m for m in current.members if m.id != ordinal]
    host = next((m.host for m in current.members if m.id == ordinal), target.host)
    members.append(target.model_copy(update={"host": host}))
    role = "arbiter" if target.arbiter_only else "voter"
    verb = "add" if target.arbiter_only else "promote"
    return ConfigStep(config=_with_members(current, members), action=f"{verb} m{ordinal} as {role}")


def _demote(
    current: RsConfig, want: Mapping[int, RsMember], demote: list[int], primary: int, states: States
) -> ConfigStep:
    victims = sorted(demote, key=lambda o: (o == primary, -o))
    victim = victims[0]
    if victim in want:
        members = [m.model_copy(update={"votes": 0, "priority": 0}) if m.id == victim else m for m in current.members]
        action = f"demote m{victim} to non-voting"
    else:
        members = [m for m in current.members if m.id != victim]
        action = f"remove voter m{victim}"
    if not _quorum_kept(members, states):
        return ConfigStep(action=f"waiting: after '{action}' the healthy voters would not form a majority")
    if victim == primary:
        electable = [
            m.id for m in members if m.id != primary and m.votes and m.priority > 0 and states.get(m.id) == "SECONDARY"
        ]
        if not electable:
            return ConfigStep(action=f"waiting: m{primary} is PRIMARY and no other electable member is SECONDARY")
        return ConfigStep(step_down=primary, action=f"step down m{primary} (PRIMARY) before it stops voting")
    return ConfigStep(config=_with_members(current, members), action=action)


def plan_config_step(current: RsConfig, desired: RsConfig, states: States) -> ConfigStep:
    """The next safe step from ``current`` towards ``desired``; ``states`` maps ``_id`` → stateStr."""
    if in_sync(current, desired):
        return ConfigStep(done=True, action="replica-set config in sync")
    primary = _primary(current, states)
    if primary is None:
        return ConfigStep(action="waiting for a PRIMARY to run replSetReconfig on")
    passive = _passive_step(current, desired)
    if passive is not None:
        return passive
    cur = {m.id: m for m in current.members}
    want = {m.id: m for m in desired.members}
    cur_voters = {i for i, m in cur.items() if m.votes}
    want_voters = {i for i, m in want.items() if m.votes}
    promote = sorted(want_voters - cur_voters)
    demote = sorted(cur_voters - want_voters)
    if promote and len(cur_voters) < MAX_VOTERS:
        ready = [o for o in promote if _promotable(o, cur, want, states)]
        if ready:
            return _promote(current, want, ready[0], states)
        if not demote or len(cur_voters) <= len(want_voters):
            first = promote[0]
            return ConfigStep(
                action=f"waiting for m{first} to be {'reachable' if want[first].arbiter_only else 'SECONDARY'} "
                f"(now {states.get(first, 'UNKNOWN')}) before it votes"
            )
    if demote:
        return _demote(current, want, demote, primary, states)
    return ConfigStep(action="waiting: no safe step (this is a bug if it persists)")


def next_config(current: RsConfig, desired: RsConfig, states: States) -> RsConfig | None:
    """The next config to install, or None (in sync, waiting, or a step-down must come first)."""
    return plan_config_step(current, desired, states).config


def remaining_changes(current: RsConfig, desired: RsConfig) -> str:
    """What is left, for a status condition: "add m5, m6; promote m5, m6; remove m2"."""
    cur = {m.id: m for m in current.members}
    want = {m.id: m for m in desired.members}
    joining = sorted(want.keys() - cur.keys())
    leaving = sorted(cur.keys() - want.keys())
    promote = sorted(i for i in want if want[i].votes and not (i in cur and cur[i].votes))
    demote = sorted(i for i in want.keys() & cur.keys() if cur[i].votes and not want[i].votes)
    parts = []
    if joining:
        parts.append(f"add {_name(joining)}")
    if promote:
        parts.append(f"give a vote to {_name(promote)}")
    if demote:
        parts.append(f"take the vote from {_name(demote)}")
    if leaving:
        parts.append(f"remove {_name(leaving)}")
    return "; ".join(parts) if parts else "nothing"
