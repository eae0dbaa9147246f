"""Elections (protocol version 1): timeouts, dry runs, votes, and primaries that lose their majority.

A secondary that has heard from no primary for ``electionTimeoutMillis`` (plus up
to 15 % jitter) runs for the next term if it is electable. It first holds a
dry run, then asks every reachable voter; a voter grants one vote per term, only
to a candidate whose config is not older and whose last optime is not behind its
own, so a majority-committed write survives every election. As in mongod's
protocol version 1, a voter does not ask whether it still hears a primary (pv0's
veto is gone, and there is no leader stickiness): under a non-transitive partition
a member cut from the primary wins with the votes of members that still hear it,
the old primary steps down on the new term, and the primary can change at every
election timeout until the partition heals. A primary that cannot see a majority of voters
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
        run_election(group, member, now, "priority takeover")


def run_election(group: ReplicaSetGroup, candidate: Member, now: float, reason: str) -> bool:
    """Dry run, then a real election for the next term. True if the candidate became primary."""
    config = candidate.data.config
    me = candidate.me
    assert config is not None and me is not None
    term = candidate.data.term + 1
    if not _ballot(candidate, config, term, now, dry_run=True):
        candidate.reset_election_timer(now)
        return False
    candidate.data.term = term
    candidate.data.vote_term, candidate.data.vote_for = term, me.id
    if _ballot(candidate, config, term, now, dry_run=False):
        candidate.log("elected for term %d (%s)", term, reason)
        candidate.become_primary(now)
        group.poke()
        return True
    candidate.log("lost the election for term %d (%s)", term, reason)
    candidate.reset_election_timer(now)
    return False


def _ballot(candidate: Member, config: RsConfig, term: int, now: float, *, dry_run: bool) -> bool:
    registry = candidate.services.members
    votes = 1
    for voter_config in config.voters:
        voter = registry.get(voter_config.host)
        if voter is None or voter is candidate:
            continue
        if candidate.link_error(voter) is None and grant_vote(voter, candidate, term, now, dry_run):
            votes += 1
    return config.is_majority(votes)


def grant_vote(voter: Member, candidate: Member, term: int, now: float, dry_run: bool) -> bool:
    """The voter's decision, as mongod's replSetRequestVotes: set, config, term, the candidate's data not staler
    than its own, one vote per term. Whether it still hears a primary (itself included) does not count."""
    mine, theirs = voter.data.config, candidate.data.config
    if mine is None or theirs is None or voter.state in (State.STARTUP, State.REMOVED):
        return False
    if mine.replica_set_id != theirs.replica_set_id or mine.version > theirs.version:
        return False
    if not _term_allows(voter, term, dry_run):
        return False
    if voter.last_optime > candidate.last_optime:
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
