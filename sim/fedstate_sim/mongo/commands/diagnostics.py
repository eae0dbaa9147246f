"""Server-level commands: ping, buildInfo, serverStatus, parameters, command line, sessions, identity.

Every reply that describes the server carries ``fedstateSimulator`` so a
monitoring tool pointed at a simulated member cannot take it for a real mongod.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from bson import Int64

from fedstate_sim.config import SIMULATOR_BANNER
from fedstate_sim.mongo.commands.context import CommandContext
from fedstate_sim.mongo.commands.hello import MAX_BSON_OBJECT_SIZE, hello_reply, topology_version
from fedstate_sim.mongo.commands.registry import Reply, command
from fedstate_sim.mongo.commands.writes import Writer
from fedstate_sim.mongo.errors import Code, CommandError
from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.storage import FCV_ID, SYSTEM_VERSION_NS
from fedstate_sim.mongo.versions import invalid_fcv, release_name, release_of, version_string, version_tuple

Doc = dict[str, Any]
CONFIRM_SINCE = (7, 0)  # setFeatureCompatibilityVersion needs confirm: true on these binaries
FCV_NOT_CONFIRMED = 7369100
UNKNOWN_FIELD = 40415  # IDL's strict parsing: a field this release does not know
STORAGE_ENGINE = "fedstate-sim-memory"
_DEFAULT_PARAMETERS: Doc = {"logLevel": 0, "authenticationMechanisms": ["SCRAM-SHA-1", "SCRAM-SHA-256"]}


def _fcv(member: Member) -> str:
    """What the data says; a member that never joined a set runs its own release's."""
    return member.data.feature_compatibility_version() or release_name(release_of(member.launch.image))


def _parameters(member: Member) -> Doc:
    return {**_DEFAULT_PARAMETERS, "featureCompatibilityVersion": {"version": _fcv(member)}, **member.params}


@command("ping", auth=False)
async def ping(ctx: CommandContext, cmd: Doc) -> Reply:
    return {"ok": 1.0}


@command("buildInfo", "buildinfo", auth=False)
async def build_info(ctx: CommandContext, cmd: Doc) -> Reply:
    version = version_string(ctx.member.launch.image)
    return {
        "version": version,
        "gitVersion": "fedstate-simulator",
        "versionArray": [*version_tuple(ctx.member.launch.image), 0],
        "bits": 64,
        "debug": False,
        "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE,
        "storageEngines": [STORAGE_ENGINE],
        "modules": [],
        "javascriptEngine": "none",
        "fedstateSimulator": SIMULATOR_BANNER,
        "ok": 1.0,
    }


@command("serverStatus")
async def server_status(ctx: CommandContext, cmd: Doc) -> Reply:
    member, now = ctx.member, ctx.now
    uptime = now - member.started
    repl = {k: v for k, v in hello_reply(member, ctx.conn).items() if k in _REPL_FIELDS}
    return {
        "host": member.host,
        "version": version_string(member.launch.image),
        "process": "mongod",
        "pid": Int64(os.getpid()),
        "uptime": float(int(uptime)),
        "uptimeMillis": Int64(int(uptime * 1000)),
        "localTime": datetime.now(UTC),
        "connections": {
            "current": member.open_connections,
            "available": 50_000,
            "totalCreated": member.connection_ids,
            "active": 1,
        },
        "repl": {**repl, "topologyVersion": topology_version(member), "rbid": 1},
        "opcounters": {"insert": 0, "query": 0, "update": 0, "delete": 0, "getmore": 0, "command": 0},
        "storageEngine": {"name": STORAGE_ENGINE, "persistent": False},
        "mem": {"bits": 64, "resident": 0, "virtual": 0},
        "fedstateSimulator": SIMULATOR_BANNER,
        "ok": 1.0,
    }


_REPL_FIELDS = {
    "hosts",
    "passives",
    "arbiters",
    "setName",
    "setVersion",
    "isWritablePrimary",
    "secondary",
    "primary",
    "me",
    "electionId",
    "lastWrite",
    "arbiterOnly",
    "hidden",
    "isreplicaset",
}


@command("getParameter")
async def get_parameter(ctx: CommandContext, cmd: Doc) -> Reply:
    parameters = _parameters(ctx.member)
    if cmd["getParameter"] == "*":
        return {**parameters, "ok": 1.0}
    wanted = [k for k in cmd if k not in ("getParameter", "$db", "lsid", "$readPreference", "$clusterTime")]
    missing = [k for k in wanted if k not in parameters]
    if missing:
        raise CommandError(Code.InvalidOptions, f"no option found to get: {missing[0]}")
    return {**{k: parameters[k] for k in wanted}, "ok": 1.0}


@command("setParameter")
async def set_parameter(ctx: CommandContext, cmd: Doc) -> Reply:
    changes = {
        k: v for k, v in cmd.items() if k not in ("setParameter", "$db", "lsid", "$readPreference", "$clusterTime")
    }
    was = {k: _parameters(ctx.member).get(k) for k in changes}
    ctx.member.params.update(changes)
    return {"was": next(iter(was.values()), None), "ok": 1.0}


@command("setFeatureCompatibilityVersion")
async def set_fcv(ctx: CommandContext, cmd: Doc) -> Reply:
    """On the primary, to the binary's release or the previous one (7.0+ binaries ask for ``confirm: true``); the
    new value is a write to ``admin.system.version``, replicated and acknowledged by a majority."""
    target = str(cmd["setFeatureCompatibilityVersion"])
    release = release_of(ctx.member.launch.image)
    if (invalid := invalid_fcv(ctx.member.launch.image, target)) is not None:
        raise CommandError(Code.BadValue, invalid)
    if release < CONFIRM_SINCE and "confirm" in cmd:
        raise CommandError(UNKNOWN_FIELD, "BSON field 'setFeatureCompatibilityVersion.confirm' is an unknown field.")
    if release >= CONFIRM_SINCE and cmd.get("confirm") is not True:
        raise CommandError(
            FCV_NOT_CONFIRMED,
            "Once you have upgraded to 7.0, you will not be able to downgrade FCV and binary version without support "
            "assistance. Please re-run this command with 'confirm: true' to acknowledge this and continue with the "
            "FCV upgrade.",
        )
    writer = Writer(ctx, {**cmd, "writeConcern": {"w": "majority"}})
    if _fcv(writer.member) != target:
        writer.append("u", SYSTEM_VERSION_NS, {"_id": FCV_ID, "version": target})
    return await writer.finish({"ok": 1.0})


@command("getCmdLineOpts")
async def get_cmd_line_opts(ctx: CommandContext, cmd: Doc) -> Reply:
    launch = ctx.member.launch
    return {
        "argv": ["mongod", "--replSet", launch.repl_set, "--bind_ip_all", "--port", "27017"],
        "parsed": {"net": {"bindIp": "*", "port": 27017}, "replication": {"replSet": launch.repl_set}},
        "fedstateSimulator": SIMULATOR_BANNER,
        "ok": 1.0,
    }


@command("endSessions", "killSessions", "refreshSessions", auth=False)
async def end_sessions(ctx: CommandContext, cmd: Doc) -> Reply:
    return {"ok": 1.0}


def _implicit_w(ctx: CommandContext) -> int | str:
    config = ctx.member.data.config
    return config.implicit_write_concern if config is not None else "majority"


@command("getDefaultRWConcern")
async def get_default_rw_concern(ctx: CommandContext, cmd: Doc) -> Reply:
    return {
        "defaultReadConcern": {"level": "local"},
        "defaultWriteConcern": {"w": _implicit_w(ctx), "wtimeout": 0},
        "defaultWriteConcernSource": "implicit",
        "ok": 1.0,
    }


@command("connectionStatus")
async def connection_status(ctx: CommandContext, cmd: Doc) -> Reply:
    users = [{"user": user, "db": db} for user, db in sorted(ctx.conn.users)]
    return {"authInfo": {"authenticatedUsers": users, "authenticatedUserRoles": []}, "ok": 1.0}


@command("whatsmyuri")
async def whats_my_uri(ctx: CommandContext, cmd: Doc) -> Reply:
    return {"you": ctx.conn.remote, "ok": 1.0}


@command("hostInfo")
async def host_info(ctx: CommandContext, cmd: Doc) -> Reply:
    return {
        "system": {"hostname": ctx.member.host, "cpuArch": "x86_64", "numCores": os.cpu_count() or 1},
        "os": {"type": "fedstate simulator"},
        "ok": 1.0,
    }
