"""Run one command: look it up, enforce authentication and read rules, turn errors into replies.

A command's readConcern is parsed before it runs and a read's is served as mongod serves it
(``readconcern``). Authentication follows mongod with access control (``--keyFile`` or ``--auth``): an
unauthenticated connection may run only the commands registered with ``auth=False``
(hello, ping, buildInfo, SASL, logout, endSessions) and gets Unauthorized (13) for
any other — with one exception, the localhost exception: a connection over the
loopback interface (the mongo shell inside the pod) may run anything while no user
exists. An authenticated connection may run what the built-in roles of its users grant
(``fedstate_sim.mongo.roles``), Unauthorized otherwise. A member started without access
control runs every command for anyone.
"""

from __future__ import annotations

import logging
from typing import Any

from bson import Binary, Int64, Timestamp

from fedstate_sim.mongo.commands import readconcern
from fedstate_sim.mongo.commands.context import CommandContext
from fedstate_sim.mongo.commands.hello import topology_version
from fedstate_sim.mongo.commands.registry import COMMANDS, CommandSpec, Reply
from fedstate_sim.mongo.errors import STATE_CHANGE_CODES, Code, CommandError
from fedstate_sim.mongo.peers import State
from fedstate_sim.mongo.roles import allows
from fedstate_sim.mongo.services import AccessRefusal
from fedstate_sim.mongo.versions import AWAITABLE_HELLO_SINCE, has

log = logging.getLogger("fedstate_sim.mongo")
RETRYABLE_CODES = {
    int(code)
    for code in (
        Code.NotWritablePrimary,
        Code.NotPrimaryNoSecondaryOk,
        Code.NotPrimaryOrSecondary,
        Code.PrimarySteppedDown,
        Code.InterruptedDueToReplStateChange,
        Code.ExceededTimeLimit,
        Code.InterruptedAtShutdown,
        Code.ShutdownInProgress,
    )
} | {7, 6, 89, 9001}  # host/network errors


async def dispatch(ctx: CommandContext, command: dict[str, Any]) -> Reply:
    """The reply document for ``command`` (never raises for a command-level failure)."""
    name = next(iter(command), "")
    try:
        spec = COMMANDS.get(name)
        if spec is None:
            raise CommandError(Code.CommandNotFound, f"no such command: '{name}'")
        check_access(ctx, spec)
        _hear_cluster_time(ctx, command)
        concern = readconcern.parse(command)
        ctx.read_level = concern.level
        if spec.where == "reads":
            readconcern.check_servable(ctx, concern)
            await readconcern.wait_for_cluster_time(ctx, concern, command)
        reply = await spec.handler(ctx, command)
        if spec.where == "reads":
            await readconcern.confirm(ctx, concern, command)
    except CommandError as error:
        reply = error.to_doc()
        if error.code in STATE_CHANGE_CODES and has(ctx.member.launch.image, AWAITABLE_HELLO_SINCE):
            reply["topologyVersion"] = topology_version(ctx.member)
    except Exception as error:  # a simulator bug must reach the client as an error, not a hang
        log.exception("%s: command %s failed", ctx.member.describe(), name)
        reply = CommandError(Code.InternalError, f"simulator error in {name}: {error!r}").to_doc()
    reply.setdefault("ok", 1.0)
    _label_retryable(command, reply)
    _stamp_times(ctx, reply)
    return reply


def _hear_cluster_time(ctx: CommandContext, command: dict[str, Any]) -> None:
    """A client's ``$clusterTime`` moves the member's cluster time on (drivers send the highest they have seen).
    mongod also checks its signature against the set's keys; the simulator signs with none and checks none."""
    gossip = command.get("$clusterTime")
    told = gossip.get("clusterTime") if isinstance(gossip, dict) else None
    if isinstance(told, Timestamp):
        ctx.member.hear_cluster_time(told.time, told.inc)


def _stamp_times(ctx: CommandContext, reply: Reply) -> None:
    """A replica-set member's reply carries ``operationTime`` (the newest entry the command could have seen: the
    commit point for a majority read) and ``$clusterTime``, so drivers can make a session causally consistent.
    A member not in a set yet sends neither, as mongod."""
    member = ctx.member
    if member.data.config is None:
        return
    seen = member.commit_point if ctx.read_level == "majority" else member.last_optime
    reply["operationTime"] = Timestamp(seen.secs, seen.inc)
    reply["$clusterTime"] = {
        "clusterTime": Timestamp(*member.cluster_time()),
        "signature": {"hash": Binary(bytes(20)), "keyId": Int64(0)},
    }


def _label_retryable(command: dict[str, Any], reply: Reply) -> None:
    """mongod 4.4+ tells drivers which failed retryable writes to retry (errorLabels)."""
    if "txnNumber" not in command or "autocommit" in command:
        return
    codes = {reply.get("code"), (reply.get("writeConcernError") or {}).get("code")}
    if codes & RETRYABLE_CODES:
        reply["errorLabels"] = ["RetryableWriteError"]


def check_access(ctx: CommandContext, spec: CommandSpec) -> None:
    if spec.auth and not ctx.conn.users and ctx.member.launch.access_control and not _localhost_exception(ctx):
        _record_refusal(ctx, spec.name)
        raise CommandError(Code.Unauthorized, f"command {spec.name} requires authentication")
    if spec.auth and ctx.conn.users and ctx.member.launch.access_control and not _granted(ctx, spec.name):
        raise CommandError(Code.Unauthorized, f"not authorized on {ctx.db} to execute command {{ {spec.name}: ... }}")
    if spec.where == "reads":
        check_readable(ctx)


def _granted(ctx: CommandContext, command: str) -> bool:
    """Does a role of a user logged in on this connection grant ``command`` on the command's database?"""
    roles = [
        role
        for user, db in ctx.conn.users
        if (found := ctx.member.data.user(db, user)) is not None
        for role in found.get("roles", [])
    ]
    return allows(roles, command, ctx.db)


def _record_refusal(ctx: CommandContext, command: str) -> None:
    """Kept for inspection (the control API's /sim/mongo/refusals): who sent what unauthenticated."""
    application = ctx.conn.client.get("application")
    app = str(application.get("name", "")) if isinstance(application, dict) else ""
    refusal = AccessRefusal(ctx.member.host, command, ctx.conn.remote, app, ctx.conn.local)
    ctx.member.services.refusals.append(refusal)
    ctx.member.log("refused %s to an unauthenticated client %s (%s)", command, ctx.conn.remote, app or "no app name")


def _localhost_exception(ctx: CommandContext) -> bool:
    """mongod lets a loopback connection do anything until the first user exists."""
    return ctx.conn.local and not ctx.member.data.has_users()


def check_readable(ctx: CommandContext) -> None:
    state = ctx.member.state
    if state is State.PRIMARY:
        return
    if state is State.SECONDARY:
        if ctx.secondary_ok():
            return
        raise CommandError(Code.NotPrimaryNoSecondaryOk, "not primary and secondaryOk=false")
    raise CommandError(Code.NotPrimaryOrSecondary, f"node is not in primary or recovering state ({state.label})")
