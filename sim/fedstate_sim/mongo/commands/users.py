"""User management: createUser, updateUser, dropUser, grantRolesToUser, usersInfo.

Users are documents in ``admin.system.users`` written through the oplog, so
they replicate to every member like any other data (and a user created on a
primary that then loses its writes in a rollback is gone, as in mongod).
Credentials are computed once, at creation (see scram.py), in a worker thread: PBKDF2 costs about 10 ms a
user, and a real mongod spends it on its own machine, so it must not hold up every other simulated server
(and Kubernetes API) that shares this event loop. Roles are recorded, reported, and enforced per command by
``dispatch`` (``fedstate_sim.mongo.roles``).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from bson import Binary

from fedstate_sim.mongo.commands.context import CommandContext
from fedstate_sim.mongo.commands.registry import Reply, command
from fedstate_sim.mongo.commands.sasl import MECHANISMS, find_user
from fedstate_sim.mongo.commands.writes import Writer
from fedstate_sim.mongo.errors import Code, CommandError
from fedstate_sim.mongo.scram import make_credentials
from fedstate_sim.mongo.storage import USERS_NS


def _roles(roles: Any, db: str) -> list[dict[str, str]]:
    """Roles as ``{role, db}`` documents (a bare string names a role in the command's database)."""
    if not isinstance(roles, list):
        raise CommandError(Code.BadValue, "roles must be an array")
    return [{"role": r, "db": db} if isinstance(r, str) else {"role": r["role"], "db": r["db"]} for r in roles]


async def _credentials(name: str, cmd: dict[str, Any]) -> dict[str, Any]:
    password = cmd.get("pwd")
    if not isinstance(password, str) or not password:
        raise CommandError(Code.BadValue, "Must provide a 'pwd' field for all user documents")
    mechanisms = cmd.get("mechanisms") or list(MECHANISMS)
    unknown = [m for m in mechanisms if m not in MECHANISMS]
    if unknown:
        raise CommandError(Code.BadValue, f"Unknown auth mechanism '{unknown[0]}'")
    # hashlib's PBKDF2 lets go of the GIL, so the derivation runs beside the loop, not in it.
    return await asyncio.to_thread(
        lambda: {mechanism: make_credentials(mechanism, name, password) for mechanism in mechanisms}
    )


def _refuse_existing(ctx: CommandContext, name: str) -> None:
    if find_user(ctx.member, ctx.db, name) is not None:
        raise CommandError(Code.UserAlreadyExists, f'Could not add user: User "{name}@{ctx.db}" already exists')


def _existing(ctx: CommandContext, name: str) -> dict[str, Any]:
    user = find_user(ctx.member, ctx.db, name)
    if user is None:
        raise CommandError(Code.UserNotFound, f"User {name}@{ctx.db} not found")
    return user


async def _write_user(ctx: CommandContext, cmd: dict[str, Any], op: str, doc: dict[str, Any]) -> Reply:
    writer = Writer(ctx, cmd)
    writer.append(op, USERS_NS, doc)
    return await writer.finish({"ok": 1.0})


@command("createUser", where="primary")
async def create_user(ctx: CommandContext, cmd: dict[str, Any]) -> Reply:
    name = str(cmd["createUser"])
    _refuse_existing(ctx, name)
    credentials = await _credentials(name, cmd)
    _refuse_existing(ctx, name)  # created by another command while this one derived its keys
    doc = {
        "_id": f"{ctx.db}.{name}",
        "userId": Binary(uuid.uuid4().bytes, 4),
        "user": name,
        "db": ctx.db,
        "credentials": credentials,
        "roles": _roles(cmd.get("roles", []), ctx.db),
        "customData": cmd.get("customData", {}),
    }
    return await _write_user(ctx, cmd, "i", doc)


@command("updateUser", where="primary")
async def update_user(ctx: CommandContext, cmd: dict[str, Any]) -> Reply:
    name = str(cmd["updateUser"])
    _existing(ctx, name)
    credentials = await _credentials(name, cmd) if "pwd" in cmd else None
    doc = dict(_existing(ctx, name))  # read again: another command may have changed or dropped it meanwhile
    if credentials is not None:
        doc["credentials"] = credentials
    if "roles" in cmd:
        doc["roles"] = _roles(cmd["roles"], ctx.db)
    if "customData" in cmd:
        doc["customData"] = cmd["customData"]
    return await _write_user(ctx, cmd, "u", doc)


@command("grantRolesToUser", where="primary")
async def grant_roles(ctx: CommandContext, cmd: dict[str, Any]) -> Reply:
    doc = dict(_existing(ctx, str(cmd["grantRolesToUser"])))
    added = [r for r in _roles(cmd.get("roles", []), ctx.db) if r not in doc["roles"]]
    doc["roles"] = [*doc["roles"], *added]
    return await _write_user(ctx, cmd, "u", doc)


@command("dropUser", where="primary")
async def drop_user(ctx: CommandContext, cmd: dict[str, Any]) -> Reply:
    user = _existing(ctx, str(cmd["dropUser"]))
    return await _write_user(ctx, cmd, "d", {"_id": user["_id"]})


@command("usersInfo")
async def users_info(ctx: CommandContext, cmd: dict[str, Any]) -> Reply:
    wanted = _wanted_users(cmd["usersInfo"], ctx.db)
    users = ctx.member.data.collections.get(USERS_NS, {}).values()
    selected = [
        u for u in users if (wanted is None and u["db"] == ctx.db) or (wanted and (u["user"], u["db"]) in wanted)
    ]
    show_credentials = bool(cmd.get("showCredentials"))
    return {"users": [_user_info(u, show_credentials) for u in selected], "ok": 1.0}


def _wanted_users(spec: Any, db: str) -> set[tuple[str, str]] | None:
    """The (user, db) pairs usersInfo asks for; None means every user of the database."""
    if spec == 1 or spec is True:
        return None
    items = spec if isinstance(spec, list) else [spec]
    return {(i, db) if isinstance(i, str) else (i["user"], i.get("db", db)) for i in items}


def _user_info(user: dict[str, Any], show_credentials: bool) -> dict[str, Any]:
    info: dict[str, Any] = {k: user[k] for k in ("_id", "userId", "user", "db", "roles", "customData") if k in user}
    info["mechanisms"] = sorted(user["credentials"])
    if show_credentials:
        info["credentials"] = user["credentials"]
    return info
