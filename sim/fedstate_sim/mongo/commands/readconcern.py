"""readConcern, parsed and served as mongod does (``repl/read_concern_args.cpp``, ``read_concern_mongod.cpp``).

Parsed for every command that carries one, before the command runs:

- not a document: FailedToParse (9), "readConcern field should be an object";
- a field of the wrong type (``level`` not a string, a cluster time not a timestamp): TypeMismatch (14);
- a level other than local, majority, linearizable, available and snapshot: FailedToParse, naming the five;
- a field mongod does not know: InvalidOptions (72), "Unrecognized option in readConcern: <field>";
- afterClusterTime together with afterOpTime, afterClusterTime with a level other than majority, local or
  snapshot, atClusterTime with a level other than snapshot: InvalidOptions.

Served by the read commands: "majority" reads the member's majority-committed state (``crud.readable``);
"linearizable" runs on a primary only (NotWritablePrimary elsewhere) and is confirmed after the read by a no-op
the primary writes and a majority acknowledges within ``maxTimeMS``: LinearizableReadConcernError (147) when
none does in time, and with no ``maxTimeMS`` the read waits as long as it takes, as mongod's does. "local",
"available" and "snapshot" read what the member has applied. A read with afterClusterTime first waits until the
member holds an entry that late (``wait_for_cluster_time``), so a causally consistent session reads its own writes
on a lagging secondary.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bson import Timestamp

from fedstate_sim.mongo.commands.context import CommandContext
from fedstate_sim.mongo.commands.writes import wait_for_write_concern
from fedstate_sim.mongo.errors import Code, CommandError
from fedstate_sim.mongo.peers import State

FIELD = "readConcern"
LEVELS = ("local", "majority", "linearizable", "available", "snapshot")
_OPTIME_FIELDS = ("afterOpTime",)
_TIMESTAMP_FIELDS = ("afterClusterTime", "atClusterTime")
_OTHER_FIELDS = ("provenance", "$_allowTransactionTableSnapshot")
# What mongod's type errors call a value (BSON type names), for the values a client can send.
_TYPE_NAMES = {bool: "bool", int: "int", float: "double", str: "string", dict: "object", list: "array"}


@dataclass(frozen=True)
class ReadConcern:
    level: str = "local"  # the level the read is served at (local when none is given)
    after_cluster_time: Timestamp | None = None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return next((name for kind, name in _TYPE_NAMES.items() if type(value) is kind), type(value).__name__)


def _wrong_type(field: str, expected: str, value: Any) -> CommandError:
    return CommandError(
        Code.TypeMismatch, f'"{field}" had the wrong type. Expected {expected}, found {_type_name(value)}'
    )


def parse(command: dict[str, Any]) -> ReadConcern:
    """The command's readConcern, refused as mongod refuses it (``CommandError``)."""
    if FIELD not in command:
        return ReadConcern()
    given = command[FIELD]
    if not isinstance(given, dict):
        raise CommandError(Code.FailedToParse, f"{FIELD} field should be an object")
    for field, value in given.items():
        if field == "level":
            if not isinstance(value, str):
                raise _wrong_type("level", "string", value)
            if value not in LEVELS:
                choices = "', '".join(LEVELS[:-1])
                raise CommandError(Code.FailedToParse, f"{FIELD}.level must be either '{choices}', or '{LEVELS[-1]}'")
        elif field in _TIMESTAMP_FIELDS:
            if not isinstance(value, Timestamp):
                raise _wrong_type(field, "timestamp", value)
        elif field not in _OPTIME_FIELDS and field not in _OTHER_FIELDS:
            raise CommandError(Code.InvalidOptions, f"Unrecognized option in {FIELD}: {field}")
    level = str(given.get("level", "local"))
    if "afterClusterTime" in given and "afterOpTime" in given:
        raise CommandError(Code.InvalidOptions, "Can not specify both afterClusterTime and afterOpTime")
    if "afterClusterTime" in given and level not in ("majority", "local", "snapshot"):
        raise CommandError(
            Code.InvalidOptions,
            "afterClusterTime field can be set only if level is equal to majority, local, or snapshot",
        )
    if "atClusterTime" in given and level != "snapshot":
        raise CommandError(Code.InvalidOptions, "atClusterTime field can be set only if level is equal to snapshot")
    after = given.get("afterClusterTime")
    return ReadConcern(level, after if isinstance(after, Timestamp) else None)


def check_servable(ctx: CommandContext, concern: ReadConcern) -> None:
    """Before a read: a linearizable read is served by a primary only."""
    if concern.level == "linearizable" and ctx.member.state is not State.PRIMARY:
        raise CommandError(Code.NotWritablePrimary, "cannot satisfy linearizable read concern on non-primary node")


async def wait_for_cluster_time(ctx: CommandContext, concern: ReadConcern, command: dict[str, Any]) -> None:
    """Before a read with ``afterClusterTime``: wait until this member holds an entry at least that late (applied;
    committed, for majority), as mongod does for a causally consistent read. A primary behind it writes a no-op
    to get there (mongod's makeNoopWriteIfNeeded); a secondary waits for replication. A time ahead of the
    member's cluster time is refused; ``maxTimeMS`` bounds the wait (MaxTimeMSExpired)."""
    wanted = concern.after_cluster_time
    if wanted is None:
        return
    member = ctx.member
    target, current = (wanted.time, wanted.inc), member.cluster_time()
    if target > current:
        raise CommandError(
            Code.InvalidOptions,
            "readConcern afterClusterTime value must not be greater than the current clusterTime. Requested "
            f"clusterTime: {_stamp(target)}; current clusterTime: {_stamp(current)}",
        )

    def reached() -> bool:
        point = member.commit_point if concern.level == "majority" else member.last_optime
        return point.stamp >= target

    if not reached() and member.state is State.PRIMARY and member.last_optime.stamp < target:
        _write_noop(ctx, "advance to afterClusterTime")
    limit = float(command.get("maxTimeMS") or 0) / 1000 or None
    try:
        async with asyncio.timeout(limit):
            while not reached():
                await asyncio.shield(member.progressed())
    except TimeoutError:
        raise CommandError(Code.MaxTimeMSExpired, "operation exceeded time limit") from None


def _write_noop(ctx: CommandContext, message: str) -> None:
    """A no-op on the primary, replicated as any write."""
    ctx.member.write_noop(message, ctx.now)
    if ctx.member.group is not None:
        ctx.member.group.request_replication()


def _stamp(seconds_and_increment: tuple[int, int]) -> str:
    return "Timestamp({}, {})".format(*seconds_and_increment)


async def confirm(ctx: CommandContext, concern: ReadConcern, command: dict[str, Any]) -> None:
    """After a read: a linearizable one is confirmed by a majority-acknowledged no-op written after it."""
    if concern.level != "linearizable":
        return
    member = ctx.member
    if member.state is not State.PRIMARY:
        raise CommandError(Code.NotWritablePrimary, "No longer primary when waiting for linearizable read concern")
    _write_noop(ctx, "linearizable read")
    concern_document = {"w": "majority", "wtimeout": int(command.get("maxTimeMS") or 0)}
    error = await wait_for_write_concern(member, concern_document)
    if error is None:
        return
    if error.get("code") == Code.WriteConcernFailed:
        raise CommandError(Code.LinearizableReadConcernError, "Failed to confirm that read was linearizable.")
    raise CommandError(Code(int(error["code"])), str(error.get("errmsg", "")))
