"""Heartbeats: each running member of a group contacts every host in its config.

Heartbeats are in-process: a "heartbeat" is a look at the peer's state through
the fault network. It refreshes the member's view of the peer and carries what
real heartbeats carry: the newer config version wins in both directions (that
is how an added member learns it was added, and a removed one that it was
removed), the higher term wins, and secondaries learn the commit point from the
primary. An unreachable peer keeps its last view until ``electionTimeout``
passes; after that it shows as DOWN with health 0. The same pass records what
elections need: how many voters the member can see and which primary it sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedstate_sim.mongo.member import UNREACHABLE, Member
from fedstate_sim.mongo.peers import PeerView, State

if TYPE_CHECKING:
    from fedstate_sim.mongo.replset import ReplicaSetGroup


def heartbeat_round(group: ReplicaSetGroup, now: float) -> bool:
    """One heartbeat from every running member of the group to each of its configured peers.

    Returns True when the round was calm: every peer answered, nothing was
    exchanged and no peer changed since the previous round.
    """
    services = group.services
    services.heartbeat_serial += 1
    calm = True
    for member in list(group.members.values()):
        if member.running and member.data.config is not None:
            calm = _heartbeat_peers(group, member, now, services.heartbeat_serial) and calm
    return calm


def _heartbeat_peers(group: ReplicaSetGroup, member: Member, now: float, serial: int) -> bool:
    registry, link_error = member.services.members, member.link_error
    timeout, me = member.timeout, member.me
    visible = 1 if me is not None and me.votes else 0
    heard = [now] * visible  # when each voter was last heard from (itself: now)
    primary: tuple[int, str, Member | None] | None = None
    calm = True
    for host, votes, view in member.links():
        peer = registry.get(host)
        failure = UNREACHABLE if peer is None else link_error(peer)
        if peer is None or failure is not None:
            view.fail(failure or UNREACHABLE)
            calm = False
        elif peer.data.config is member.data.config and peer.data.term == member.data.term:
            calm = not view.record(peer.snapshot(serial), now) and calm  # the common case: nothing to exchange
        else:
            calm = False
            if _exchange(group, member, peer, now, view):
                view.record(peer.snapshot(serial), now)
        last_ok = view.last_ok
        if last_ok is not None:
            heard += [last_ok] * votes
        if last_ok is None or now - last_ok > timeout:
            continue
        visible += votes
        if view.state is State.PRIMARY and (primary is None or view.term > primary[0]):
            primary = (view.term, host, peer if last_ok == now else None)
    member.visible_voters = visible
    member.majority_heard_at = majority_heard_at(heard, member.data.config.majority if member.data.config else 1)
    member.seen_primary = primary[1] if primary else None
    if primary is not None and primary[2] is not None and primary[0] >= member.data.term:
        _heard_primary(member, primary[2], now)
    return calm


def majority_heard_at(heard: list[float], majority: int) -> float:
    """The last moment a majority of voters had been heard from: the majority-th newest contact."""
    newest = sorted(heard, reverse=True)
    return newest[majority - 1] if len(newest) >= majority else float("-inf")


def _exchange(group: ReplicaSetGroup, member: Member, peer: Member, now: float, view: PeerView) -> bool:
    """Swap config and term with a reachable peer; False when the peer belongs to another set."""
    member.invalidate_snapshot()
    peer.invalidate_snapshot()
    if peer.data.config is not member.data.config and not _exchange_configs(group, member, peer, now, view):
        view.snapshot = None
        return False
    if peer.data.term > member.data.term:
        member.adopt_term(peer.data.term, now)
    elif peer.data.term < member.data.term:
        peer.adopt_term(member.data.term, now)
    return True


def _exchange_configs(group: ReplicaSetGroup, member: Member, peer: Member, now: float, view: PeerView) -> bool:
    mine, theirs = member.data.config, peer.data.config
    assert mine is not None
    if theirs is None:
        if peer.launch.repl_set != mine.name:
            view.message = f"replica set names do not match: ours {mine.name}, theirs {peer.launch.repl_set}"
            return False
        peer.install_config(mine, now, f"received by heartbeat from {member.host}")
        group.add(peer)
    elif theirs.replica_set_id != mine.replica_set_id:
        view.message = "replica set IDs do not match"
        return False
    elif theirs.version > mine.version:
        member.install_config(theirs, now, f"newer config from {peer.host}")
    elif theirs.version < mine.version:
        peer.install_config(mine, now, f"newer config from {member.host}")
    return True


def _heard_primary(member: Member, primary: Member, now: float) -> None:
    """A heartbeat from the current primary keeps elections away and carries the commit point."""
    member.reset_election_timer(now)
    commit = primary.commit_point
    if commit > member.commit_point and member.data.index_of(commit) is not None:
        member.commit_point = commit
        member.note_progress()  # a majority read waiting for its afterClusterTime looks again
