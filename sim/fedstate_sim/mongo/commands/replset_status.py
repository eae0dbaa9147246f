"""replSetGetStatus and replSetGetConfig: the member's own state plus what heartbeats told it.

Peers are reported as this member sees them: a peer that has not answered a
heartbeat for ``electionTimeoutMillis`` is ``(not reachable/healthy)`` with
health 0, exactly the shape the data-plane agent reads from a real mongod.
"""

from __future__ import annotations

from typing import Any

from bson import Int64, Timestamp

from fedstate_sim.config import SIMULATOR_BANNER
from fedstate_sim.mongo.commands.context import CommandContext
from fedstate_sim.mongo.commands.registry import Reply, command
from fedstate_sim.mongo.errors import Code, CommandError
from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.peers import PeerView, State
from fedstate_sim.mongo.replication import config_oplog_committed
from fedstate_sim.mongo.rsconfig import MemberConfig, RsConfig
from fedstate_sim.mongo.storage import NULL_OPTIME, OpTime

Doc = dict[str, Any]


def require_config(member: Member) -> RsConfig:
    config = member.data.config
    if config is None:
        raise CommandError(Code.NotYetInitialized, "no replset config has been received")
    if member.me is None:
        raise CommandError(
            Code.InvalidReplicaSetConfig, "Our replica set config is invalid or we are not a member of it"
        )
    return config


def config_committed(member: Member, config: RsConfig, now: float) -> bool:
    """Has a majority of the config's voters (as seen by this primary) installed this version, and is what the
    previous config committed committed in this one (``config_oplog_committed``)?"""
    if member.state is not State.PRIMARY:
        return False
    if not config_oplog_committed(member):
        return False
    installed = 0
    for voter in config.voters:
        view = member.views.get(voter.host)
        if voter.host == member.host:
            installed += member.data.config is not None and member.data.config.version == config.version
        elif view is not None and view.healthy(now, member.timeout) and view.config_version == config.version:
            installed += 1
    return config.is_majority(installed)


def _host_id(config: RsConfig, host: str | None) -> int:
    member = config.member(host) if host else None
    return member.id if member is not None else -1


def _optime_fields(optime: OpTime, durable: OpTime | None = None) -> Doc:
    """Applied and durable optimes (a peer's durable one as its heartbeat told: the same, here)."""
    durable = optime if durable is None else durable
    return {
        "optime": optime.to_doc(),
        "optimeDate": optime.date(),
        "optimeDurable": durable.to_doc(),
        "optimeDurableDate": durable.date(),
    }


def _self_entry(member: Member, config: RsConfig, me: MemberConfig, now: float) -> Doc:
    entry: Doc = {
        "_id": me.id,
        "name": me.host,
        "health": 1.0,
        "state": int(member.state),
        "stateStr": member.state.label,
        "uptime": int(now - member.started),
        **_optime_fields(member.last_optime, member.journaled(now)),
        "syncSourceHost": member.sync_source or "",
        "syncSourceId": _host_id(config, member.sync_source),
        "infoMessage": "",
        "configVersion": config.version,
        "configTerm": member.data.term,
        "self": True,
        "lastHeartbeatMessage": "",
    }
    if member.state is State.PRIMARY and member.election_time is not None:
        entry["electionTime"] = Timestamp(member.election_time, 1)
        entry["electionDate"] = member.election_time
    return entry


def _peer_entry(member: Member, config: RsConfig, peer: MemberConfig, now: float) -> Doc:
    view = member.views.get(peer.host) or PeerView(now, member.freshness)
    state = view.seen_state(now, member.timeout)
    healthy = state is not State.DOWN
    heard = member.services.wall_at(view.last_ok if view.last_ok is not None else view.first_seen)
    return {
        "_id": peer.id,
        "name": peer.host,
        "health": 1.0 if healthy else 0.0,
        "state": int(state),
        "stateStr": state.label,
        "uptime": int(now - view.up_since) if healthy and view.last_ok else 0,
        **_optime_fields(view.optime if healthy else NULL_OPTIME),
        "lastHeartbeat": heard,
        "lastHeartbeatRecv": heard,
        "pingMs": Int64(0),
        "lastHeartbeatMessage": view.message,
        "syncSourceHost": (view.sync_source or "") if healthy else "",
        "syncSourceId": _host_id(config, view.sync_source) if healthy else -1,
        "infoMessage": "",
        "configVersion": view.config_version,
        "configTerm": view.term,
    }


@command("replSetGetStatus")
async def replset_get_status(ctx: CommandContext, cmd: Doc) -> Reply:
    member, now = ctx.member, ctx.now
    config = require_config(member)
    me = member.me
    assert me is not None
    members = [
        _self_entry(member, config, m, now) if m is me else _peer_entry(member, config, m, now) for m in config.members
    ]
    last, commit, durable = member.last_optime, member.commit_point, member.journaled(now)
    return {
        "set": config.name,
        "date": member.services.wall_at(now),
        "myState": int(member.state),
        "term": Int64(member.data.term),
        "syncSourceHost": member.sync_source or "",
        "syncSourceId": _host_id(config, member.sync_source),
        "heartbeatIntervalMillis": Int64(config.heartbeat_interval_millis),
        "majorityVoteCount": config.majority,
        "writeMajorityCount": config.write_majority,
        "votingMembersCount": len(config.voters),
        "writableVotingMembersCount": sum(1 for m in config.voters if m.data_bearing),
        "optimes": {
            "lastCommittedOpTime": commit.to_doc(),
            "lastCommittedWallTime": commit.date(),
            "appliedOpTime": last.to_doc(),
            "durableOpTime": durable.to_doc(),
            "lastAppliedWallTime": last.date(),
            "lastDurableWallTime": durable.date(),
        },
        "members": members,
        "fedstateSimulator": SIMULATOR_BANNER,
        "ok": 1.0,
    }


@command("replSetGetConfig")
async def replset_get_config(ctx: CommandContext, cmd: Doc) -> Reply:
    member = ctx.member
    config = member.data.config
    if config is None:
        raise CommandError(Code.NotYetInitialized, "no replset config has been received")
    doc = config.to_doc()
    doc["term"] = member.data.term
    reply: Reply = {"config": doc, "ok": 1.0}
    if cmd.get("commitmentStatus"):
        reply["commitmentStatus"] = config_committed(member, config, ctx.now)
    return reply
