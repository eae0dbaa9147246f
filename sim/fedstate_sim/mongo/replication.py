"""Replication: secondaries pull oplog entries, new members sync, diverged members roll back.

A secondary copies from its sync source (the primary when reachable, otherwise
the freshest reachable member that is ahead) every entry older than the
replication lag. A member whose last entry its source does not have has
diverged (it was primary in an older term): it truncates its oplog back to the
common point, replays, and the discarded writes are recorded on the fabric. It
shows ROLLBACK for ``rollback_seconds``, then RECOVERING until it holds what its
source held when the rollback began (mongod's minValid), then SECONDARY.
The primary computes the majority commit point from the members it can reach
(the simulator's replSetUpdatePosition) and wakes clients waiting on w:"majority"
or w:N.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.peers import State
from fedstate_sim.mongo.services import RollbackRecord
from fedstate_sim.mongo.storage import NULL_OPTIME, MemberData, OpTime

if TYPE_CHECKING:
    from fedstate_sim.mongo.replset import ReplicaSetGroup

_SOURCE_STATES = (State.PRIMARY, State.SECONDARY)
_PULLING = (State.SECONDARY, State.RECOVERING)


def replication_round(group: ReplicaSetGroup, now: float) -> float | None:
    """Advance every member of the group; returns when entries still held back by lag become due."""
    members = [m for m in group.members.values() if m.running]
    newest = max((m.last_optime for m in members), default=NULL_OPTIME)
    next_due: float | None = None
    for member in members:
        due: float | None = None
        if member.state is State.STARTUP2 and now >= member.startup2_until:
            initial_sync(member)
        elif member.state is State.ROLLBACK:
            due = _continue_rollback(member, now)
        elif member.state in _PULLING and not _settled(member, newest):
            due = _pull(member, now)
        if member.state is State.RECOVERING and member.last_optime >= member.data.min_valid:
            _recovered(member, now)
        if due is not None and (next_due is None or due < next_due):
            next_due = due
    for member in members:
        if member.state is State.PRIMARY and (member.waiters or member.commit_point < member.last_optime):
            advance_commit_point(member)
            if member.journaled(now) < member.last_optime:  # counts for the majority once the flusher runs
                flush = member.next_journal_flush(now)
                next_due = flush if next_due is None else min(next_due, flush)
    for member in members:
        member.note_progress()
    return next_due


def _settled(member: Member, newest: OpTime) -> bool:
    """Caught up with the newest member and still able to reach its sync source: nothing to do."""
    if member.last_optime < newest or member.sync_source is None:
        return False
    source = _reachable_peer(member, member.sync_source)
    return source is not None and source.state in _SOURCE_STATES


def _reachable_peer(member: Member, host: str) -> Member | None:
    """The running member at ``host`` if heartbeats get through (network, keyFile) and it is in the same set."""
    peer = member.services.members.get(host)
    if peer is None or peer is member or peer.data.config is None or member.link_error(peer) is not None:
        return None
    config = member.data.config
    return peer if config is not None and peer.data.config.replica_set_id == config.replica_set_id else None


def choose_sync_source(member: Member) -> Member | None:
    """The primary if reachable, else (chaining) the freshest suitable reachable member ahead of us."""
    config = member.data.config
    assert config is not None
    best: Member | None = None
    for peer_config in config.members:
        peer = _reachable_peer(member, peer_config.host) if peer_config.data_bearing else None
        if peer is None or peer.state not in _SOURCE_STATES:
            continue
        if peer.state is State.PRIMARY:
            return peer
        if _can_chain_from(member, peer) and (best is None or peer.last_optime > best.last_optime):
            best = peer
    return best if config.chaining_allowed else None


def _can_chain_from(member: Member, peer: Member) -> bool:
    """A secondary source must be ahead of us and hold entries of our current term.

    The term rule keeps members from copying a deposed primary's writes: those
    carry an older term than the election every voter has since taken part in.
    """
    return peer.last_optime > member.last_optime and peer.last_optime.t >= member.data.term


def _pull(member: Member, now: float) -> float | None:
    source = choose_sync_source(member)
    member.sync_source = source.host if source else None
    if source is None or source.last_optime <= member.last_optime:
        return None
    if member.data.oplog and source.data.index_of(member.last_optime) is None:
        rollback(member, source)
        member.state, member.sync_source = State.ROLLBACK, source.host
        member.rollback_until = now + member.services.rollback_seconds
        member.data.min_valid = source.last_optime
        member.refresh_topology()
        return member.rollback_until
    me = member.me
    delay = member.services.replication_lag_seconds + (me.secondary_delay_secs if me else 0)
    pending = source.data.entries_after(member.last_optime)
    ready = 0
    while ready < len(pending) and pending[ready].created + delay <= now:
        ready += 1
    if ready:
        member.data.extend(pending[:ready])
        member.data.flush_journal()  # mongod's oplog writer triggers a journal flush after each batch
    return pending[ready].created + delay if ready < len(pending) else None


def _continue_rollback(member: Member, now: float) -> float | None:
    """ROLLBACK lasts ``rollback_seconds`` (mongod takes a visible moment too); then RECOVERING."""
    if now < member.rollback_until:
        return member.rollback_until
    member.state = State.RECOVERING
    member.log("rollback done; RECOVERING until it holds %s", member.data.min_valid)
    member.refresh_topology()
    return None


def _recovered(member: Member, now: float) -> None:
    """RECOVERING ends once the member holds what its sync source held when it rolled back (minValid)."""
    member.state = State.SECONDARY
    member.reset_election_timer(now)
    member.log("caught up to %s after rollback; now SECONDARY", member.data.min_valid)
    member.refresh_topology()


def initial_sync(member: Member) -> None:
    """STARTUP2 ends: copy a source's whole oplog and become SECONDARY (waits if no source)."""
    source = choose_sync_source(member)
    if source is None or not source.data.oplog:
        return
    member.data.replace_with(list(source.data.oplog))
    member.sync_source = source.host
    member.state = State.SECONDARY
    member.log("initial sync from %s done (%d oplog entries); now SECONDARY", source.host, len(member.data.oplog))
    member.refresh_topology()


def rollback(member: Member, source: Member) -> None:
    """Truncate to the last entry the source also has; record what was discarded."""
    oplog, keep = member.data.oplog, 0
    for index in range(len(oplog) - 1, -1, -1):
        if source.data.index_of(oplog[index].optime) is not None:
            keep = index + 1
            break
    removed = member.data.truncate(keep)
    member.data.flush_journal()
    config = member.data.config
    documents = [entry.describe() for entry in removed if entry.op != "n"]
    if documents:  # no-op entries (e.g. a short-lived primary's "new primary" marker) are not lost writes
        reason = f"rolled back against {source.host}"
        member.services.rollbacks.append(RollbackRecord(config.name if config else "?", member.host, reason, documents))
    member.commit_point = min(member.commit_point, member.last_optime)
    member.log(
        "ROLLBACK of %d oplog entries (%d writes) against %s",
        len(removed),
        len(documents),
        source.host,
        level=logging.WARNING,
    )


def held_of(primary: MemberData, peer: MemberData) -> OpTime:
    """The newest entry of the primary's history that ``peer`` holds.

    Optimes order across terms, so a peer that took a newer primary's entries has a later last optime
    than a deposed primary's write without holding it: only the history the two share counts (the
    simulator's replSetUpdatePosition), or a majority write could be acknowledged and then rolled back.
    """
    for entry in reversed(peer.oplog):
        if primary.index_of(entry.optime) is not None:
            return entry.optime
    return NULL_OPTIME


def member_optimes(primary: Member) -> tuple[list[OpTime], list[OpTime]]:
    """(all data-bearing, voting data-bearing) optimes of the primary's history its members hold: applied for w:N,
    durable for the majority (writeConcernMajorityJournalDefault, true in every config the simulator takes)."""
    config = primary.data.config
    assert config is not None
    every: list[OpTime] = []
    voting: list[OpTime] = []
    now = primary.services.scheduler.now()
    for peer_config in config.members:
        if not peer_config.data_bearing:
            continue
        peer = primary if peer_config.host == primary.host else _reachable_peer(primary, peer_config.host)
        if peer is None:
            continue
        if peer is primary:
            held, durable = peer.last_optime, peer.journaled(now)
        else:
            held = held_of(primary.data, peer.data)
            durable = min(held, peer.data.durable)
        every.append(held)
        if peer_config.votes:
            voting.append(durable)
    return every, voting


def _newer_term_reported(primary: Member) -> int | None:
    """The newest term above the primary's among the data-bearing members that report their positions to it."""
    config = primary.data.config
    assert config is not None
    newest = primary.data.term
    for peer_config in config.members:
        peer = _reachable_peer(primary, peer_config.host) if peer_config.data_bearing else None
        if peer is not None and peer.data.term > newest:
            newest = peer.data.term
    return newest if newest > primary.data.term else None


def config_oplog_committed(primary: Member) -> bool:
    """A safe reconfig's oplog commitment: what the previous config had committed, and this primary's first entry
    of its term, are durable on a write majority of the current config (mongod waits for both before it installs
    another config, or two steps that each change one voter could leave a committed write on a minority)."""
    config = primary.data.config
    assert config is not None
    target = max(primary.committed_in_prev_config, primary.first_optime_of_term)
    _, voting = member_optimes(primary)
    held = majority_point(voting, config.write_majority)
    return held is not None and held >= target


def majority_point(voting: Sequence[OpTime], needed: int) -> OpTime | None:
    """The newest optime that at least ``needed`` of the voting members hold (each holds every entry up
    to its own optime); None when fewer than ``needed`` are known."""
    if needed < 1 or len(voting) < needed:
        return None
    return sorted(voting, reverse=True)[needed - 1]


def advance_commit_point(primary: Member) -> None:
    config = primary.data.config
    assert config is not None
    newer = _newer_term_reported(primary)
    if newer is not None:
        # A position report carries its sender's term, and a primary that reads a newer one steps down rather than
        # count a member that has voted for another (RaftMongo.tla's AdvanceCommitPoint): the write it would
        # acknowledge is one the new primary rolls back.
        primary.adopt_term(newer, primary.services.scheduler.now())
        return
    every, voting = member_optimes(primary)
    candidate = majority_point(voting, config.write_majority)
    if candidate is not None and candidate.t == primary.data.term and candidate > primary.commit_point:
        primary.commit_point = candidate
    _wake_writers(primary, every)


def _wake_writers(primary: Member, every: list[OpTime]) -> None:
    still_waiting = []
    for waiter in primary.waiters:
        if waiter.future.done():
            continue
        if waiter.w == "majority":
            done = primary.commit_point >= waiter.optime
        else:
            done = sum(1 for optime in every if optime >= waiter.optime) >= int(waiter.w)
        if done:
            waiter.future.set_result(None)
        else:
            still_waiting.append(waiter)
    primary.waiters = still_waiting
