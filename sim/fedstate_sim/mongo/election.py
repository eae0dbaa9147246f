"""Elections (protocol version 1): timeouts, dry runs, votes, and primaries that lose their majority.

A secondary that has heard from no primary for ``electionTimeoutMillis`` (plus up
to 15 % jitter) runs for the next term if it is electable. It first holds a
dry run, then asks every reachable voter; a voter grants one vote per term, only
to a candidate whose config is not older and whose last optime is not behind its
own, so a majority-committed write survives every election. Voters are sticky:
one that heard from a live primary within the last heartbeats refuses a timeout
election (Raft's PreVote with leader stickiness), so a non-transitive partition
does not make the primary flap. A primary that cannot see a majority of voters
for ``electionTimeoutMillis`` steps down; a higher-priority secondary that is
caught up takes over after one election timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.peers import State

if TYPE_CHECKING:
    from fedstate_sim.mongo.replset import ReplicaSetGroup
    from fedstate_sim.mongo.rsconfig import RsConfig

STICKY_HEARTBEATS = 1.5  # a voter "sees" a primary heard from within this many heartbeat intervals


def election_round(group: ReplicaSetGroup, now: float) -> None:
    for member in list(group.members.values()):
        if not member.running:
            continue
        if member.state is State.PRIMARY:
            _check_primary(member, now)
        elif member.state is State.SECONDARY:
            _check_secondary(group, member, now)


def _check_primary(member: Member, now: float) -> None:
    config = member.data.config
    assert config is not None
    if not member.electable():
        member.step_down(now, "no longer electable")
    elif now - max(member.last_majority_seen, member.majority_heard_at) > member.timeout:
        # mongod: a primary that has not heard from a majority for electionTimeoutMillis steps down
        # (counted from the last contact, not from when the peers were finally judged down).
        member.step_down(now, "cannot see a majority of the voting members")


def _check_secondary(group: ReplicaSetGroup, member: Member, now: float) -> None:
    if not member.electable() or now < member.frozen_until:
        return
    if now >= member.election_deadline:
        run_election(group, member, now, "no primary seen within electionTimeoutMillis")
    else:
        _maybe_take_over(group, member, now)


def _maybe_take_over(group: ReplicaSetGroup, member: Member, now: float) -> None:
    """Priority takeover: a caught-up secondary with a higher priority than the primary runs."""
    config, me = member.data.config, member.me
    primary = member.primary_host()
    theirs = config.member(primary) if config is not None and primary else None
    if theirs is None or me is None or primary is None or me.priority <= theirs.priority:
        member.takeover_since = None
    elif member.last_optime < member.views[primary].optime:
        member.takeover_since = None
    elif member.takeover_since is None:
        member.takeover_since = now
    elif now - member.takeover_since >= member.timeout:
        run_election(group, member, now, "priority takeover", sticky=False)


def run_election(group: ReplicaSetGroup, candidate: Member, now: float, reason: str, sticky: bool = True) -> bool:
    """Dry run, then a real election for the next term. True if the candidate became primary."""
    config = candidate.data.config
    me = candidate.me
    assert config is not None and me is not None
    term = candidate.data.term + 1
    if not _ballot(candidate, config, term, now, dry_run=True, sticky=sticky):
        candidate.reset_election_timer(now)
        return False
    candidate.data.term = term
    candidate.data.vote_term, candidate.data.vote_for = term, me.id
    if _ballot(candidate, config, term, now, dry_run=False, sticky=sticky):
        candidate.log("elected for term %d (%s)", term, reason)
        candidate.become_primary(now)
        group.poke()
        return True
    candidate.log("lost the election for term %d (%s)", term, reason)
    candidate.reset_election_timer(now)
    return False


def _ballot(candidate: Member, config: RsConfig, term: int, now: float, *, dry_run: bool, sticky: bool) -> bool:
    registry = candidate.services.members
    votes = 1
    for voter_config in config.voters:
        voter = registry.get(voter_config.host)
        if voter is None or voter is candidate:
            continue
        if candidate.link_error(voter) is None and grant_vote(voter, candidate, term, now, dry_run, sticky):
            votes += 1
    return config.is_majority(votes)


def grant_vote(voter: Member, candidate: Member, term: int, now: float, dry_run: bool, sticky: bool) -> bool:
    """The voter's decision (mongod's replSetRequestVotes, plus stickiness for timeout elections)."""
    mine, theirs = voter.data.config, candidate.data.config
    if mine is None or theirs is None or voter.state in (State.STARTUP, State.REMOVED):
        return False
    if mine.replica_set_id != theirs.replica_set_id or mine.version > theirs.version:
        return False
    if not _term_allows(voter, term, dry_run):
        return False
    if voter.last_optime > candidate.last_optime:
        return False
    if sticky and _sees_live_primary(voter, candidate, now):
        return False
    if not dry_run:
        voter.adopt_term(term, now)
        voter.data.vote_term, voter.data.vote_for = term, candidate.me.id if candidate.me else None
    return True


def _term_allows(voter: Member, term: int, dry_run: bool) -> bool:
    """A dry run asks "would you vote in the next term?"; a real vote is one per term."""
    if dry_run:
        return term > voter.data.term
    return term >= voter.data.term and voter.data.vote_term < term


def _sees_live_primary(voter: Member, candidate: Member, now: float) -> bool:
    if voter.state is State.PRIMARY:
        return True
    config = voter.data.config
    assert config is not None
    window = STICKY_HEARTBEATS * config.heartbeat_interval_millis / 1000
    for host, view in voter.views.items():
        if host != candidate.host and view.state is State.PRIMARY and view.last_ok is not None:
            if now - view.last_ok <= window and view.term >= voter.data.term:
                return True
    return False
