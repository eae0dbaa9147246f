"""hello / isMaster: the handshake and the monitoring heartbeat drivers depend on.

The reply carries the replica-set fields pymongo's topology needs (setName,
hosts/passives/arbiters, primary, me, electionId, setVersion, lastWrite) and a
``topologyVersion``; an *awaitable* hello (one carrying our current
topologyVersion and ``maxAwaitTimeMS``) is held until the member's topology
changes or the time is up, which is how a client learns of a new primary within
milliseconds. ``saslSupportedMechs`` and ``speculativeAuthenticate`` are answered
when asked for. A release without them (topologyVersion came in 4.4, saslSupportedMechs in 4.0) leaves them out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import Int64

from fedstate_sim.config import SIMULATOR_BANNER
from fedstate_sim.mongo.commands import sasl
from fedstate_sim.mongo.commands.context import CommandContext, ConnectionState
from fedstate_sim.mongo.commands.registry import Reply, command
from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.peers import State, election_id
from fedstate_sim.mongo.rsconfig import MemberConfig, RsConfig
from fedstate_sim.mongo.versions import (
    AWAITABLE_HELLO_SINCE,
    MIN_WIRE_VERSION,
    SCRAM_SHA_256_SINCE,
    has,
    max_wire_version,
)

MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024
MAX_MESSAGE_SIZE_BYTES = 48_000_000
MAX_WRITE_BATCH_SIZE = 100_000
LOGICAL_SESSION_TIMEOUT_MINUTES = 30


@command("hello", "isMaster", "ismaster", auth=False)
async def hello(ctx: CommandContext, cmd: dict[str, Any]) -> Reply:
    if isinstance(cmd.get("client"), dict):
        ctx.conn.client = cmd["client"]
    image = ctx.member.launch.image
    awaitable = has(image, AWAITABLE_HELLO_SINCE)
    if awaitable:
        await _await_topology_change(ctx.member, cmd)
    reply = hello_reply(ctx.member, ctx.conn)
    if not awaitable:
        del reply["topologyVersion"]
    if cmd.get("helloOk"):
        reply["helloOk"] = True
    if isinstance(cmd.get("saslSupportedMechs"), str) and has(image, SCRAM_SHA_256_SINCE):
        mechanisms = sasl.mechanisms_for(ctx.member, cmd["saslSupportedMechs"])
        if mechanisms is not None:
            reply["saslSupportedMechs"] = mechanisms
    if isinstance(cmd.get("speculativeAuthenticate"), dict):
        speculative = sasl.speculative_start(ctx, cmd["speculativeAuthenticate"])
        if speculative is not None:
            reply["speculativeAuthenticate"] = speculative
    return reply


def is_awaitable(cmd: dict[str, Any]) -> bool:
    return "topologyVersion" in cmd and "maxAwaitTimeMS" in cmd


async def _await_topology_change(member: Member, cmd: dict[str, Any]) -> None:
    if not is_awaitable(cmd):
        return
    version = cmd["topologyVersion"] or {}
    if version.get("processId") == member.process_id and version.get("counter") == member.tv_counter:
        await member.topology_changed(max(0, int(cmd["maxAwaitTimeMS"])) / 1000)


def topology_version(member: Member) -> dict[str, Any]:
    return {"processId": member.process_id, "counter": Int64(member.tv_counter)}


def hello_reply(member: Member, conn: ConnectionState) -> Reply:
    reply: Reply = {"topologyVersion": topology_version(member)}
    config, me = member.data.config, member.me
    if config is None or me is None:
        reply.update(
            isWritablePrimary=False,
            ismaster=False,
            secondary=False,
            isreplicaset=True,
            info="Does not have a valid replica set config",
        )
    else:
        reply.update(_set_fields(member, config, me))
    reply.update(_limits(member, conn))
    return reply


def _set_fields(member: Member, config: RsConfig, me: MemberConfig) -> Reply:
    primary = member.state is State.PRIMARY
    fields: Reply = {
        "hosts": [m.host for m in config.members if not m.arbiter_only and not m.hidden and m.priority > 0],
        "setName": config.name,
        "setVersion": config.version,
        "isWritablePrimary": primary,
        "ismaster": primary,
        "secondary": member.state is State.SECONDARY,
        "me": member.host,
        "lastWrite": _last_write(member),
    }
    _add_lists(fields, config)
    _add_self_flags(fields, member, me)
    return fields


def _add_lists(fields: Reply, config: RsConfig) -> None:
    passives = [m.host for m in config.members if not m.arbiter_only and not m.hidden and m.priority == 0]
    arbiters = [m.host for m in config.members if m.arbiter_only]
    if passives:
        fields["passives"] = passives
    if arbiters:
        fields["arbiters"] = arbiters


def _add_self_flags(fields: Reply, member: Member, me: MemberConfig) -> None:
    primary = member.primary_host()
    if primary:
        fields["primary"] = primary
    if member.state is State.PRIMARY:
        fields["electionId"] = election_id(member.data.term)
    if me.arbiter_only:
        fields["arbiterOnly"] = True
    elif me.priority == 0:
        fields["passive"] = True
    if me.hidden:
        fields["hidden"] = True
    if me.tags:
        fields["tags"] = dict(me.tags)


def _last_write(member: Member) -> Reply:
    last, majority = member.last_optime, member.commit_point
    return {
        "opTime": last.to_doc(),
        "lastWriteDate": last.date(),
        "majorityOpTime": majority.to_doc(),
        "majorityWriteDate": majority.date(),
    }


def _limits(member: Member, conn: ConnectionState) -> Reply:
    return {
        "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE,
        "maxMessageSizeBytes": MAX_MESSAGE_SIZE_BYTES,
        "maxWriteBatchSize": MAX_WRITE_BATCH_SIZE,
        "localTime": datetime.now(UTC),
        "logicalSessionTimeoutMinutes": LOGICAL_SESSION_TIMEOUT_MINUTES,
        "connectionId": conn.id,
        "minWireVersion": MIN_WIRE_VERSION,
        "maxWireVersion": max_wire_version(member.launch.image),
        "readOnly": False,
        "fedstateSimulator": SIMULATOR_BANNER,
        "ok": 1.0,
    }
