"""The primary's write path: append to the oplog, then honour the write concern.

``Writer`` appends each change as it is decided (so later statements of the
same command see earlier ones) and, at the end, waits for the write concern:
w:0/w:1 return at once, w:"majority" waits for the majority commit point, w:N
for N data-bearing members; ``wtimeout`` turns into a WriteConcernFailed
``writeConcernError`` next to ``ok: 1``, as mongod reports it. The default is
mongod 5.0+'s implicit default: w:"majority", or w:1 with an arbiter when the data-bearing voters are no
more than the voting majority (``RsConfig.implicit_write_concern``).
Retryable writes (``lsid`` + ``txnNumber``) are de-duplicated per statement.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fedstate_sim.mongo.commands.context import CommandContext
from fedstate_sim.mongo.errors import Code, CommandError, not_primary, write_concern_error
from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.peers import State, WriteWaiter
from fedstate_sim.mongo.replication import advance_commit_point
from fedstate_sim.mongo.storage import OplogEntry, StmtKey


def require_primary(ctx: CommandContext) -> Member:
    return require_primary_member(ctx.member)


def stmt_key(command: dict[str, Any], index: int) -> StmtKey | None:
    """Identity of statement ``index`` of a retryable write, or None for an ordinary write."""
    lsid, txn = command.get("lsid"), command.get("txnNumber")
    if not isinstance(lsid, dict) or txn is None or "id" not in lsid:
        return None
    return (bytes(lsid["id"]), int(txn), index)


class Writer:
    """Collects one command's oplog entries on the primary."""

    def __init__(self, ctx: CommandContext, command: dict[str, Any]) -> None:
        self.member = require_primary(ctx)
        self.command = command
        self.wrote = False

    def done_before(self, key: StmtKey | None) -> int | None:
        """The recorded result of a retried statement, or None if it has not run."""
        return self.member.data.statements.get(key) if key is not None else None

    def append(self, op: str, ns: str, doc: dict[str, Any], key: StmtKey | None = None, result: int = 1) -> None:
        member = require_primary_member(self.member)
        optime = member.next_write_optime()
        member.data.append(OplogEntry(optime, op, ns, doc, member.services.scheduler.now(), key, result))
        self.wrote = True

    async def finish(self, reply: dict[str, Any]) -> dict[str, Any]:
        """Wait for the write concern; adds ``writeConcernError`` to ``reply`` if it failed."""
        member = self.member
        if self.wrote and member.group is not None:
            member.group.request_replication()
        concern = effective_write_concern(member, self.command.get("writeConcern"))
        error = await wait_for_write_concern(member, concern)
        if error is not None:
            reply["writeConcernError"] = error
        return reply


def require_primary_member(member: Member) -> Member:
    if member.state is not State.PRIMARY:
        raise not_primary(member.state.label)
    return member


def effective_write_concern(member: Member, given: Any) -> dict[str, Any]:
    concern = dict(given) if isinstance(given, dict) else {}
    if "w" not in concern:
        config = member.data.config
        concern["w"] = config.implicit_write_concern if config is not None else "majority"
    return concern


async def wait_for_write_concern(member: Member, concern: dict[str, Any]) -> dict[str, Any] | None:
    """None when satisfied, else the writeConcernError document."""
    w = concern["w"]
    if member.state is State.PRIMARY and (concern.get("j") is True or w == "majority"):
        # mongod triggers a journal flush for these (majority: writeConcernMajorityJournalDefault) and, for w:1 with
        # j, waits for it; a flush is quick, so here it is done at once.
        member.data.flush_journal()
    if w in (0, 1) or member.state is not State.PRIMARY:
        return None
    unsatisfiable = _unsatisfiable(member, w, concern)
    if unsatisfiable is not None:
        return unsatisfiable
    waiter = WriteWaiter(member.last_optime, w)
    member.waiters.append(waiter)
    advance_commit_point(member)
    timeout = float(concern.get("wtimeout") or 0) / 1000 or None
    try:
        async with asyncio.timeout(timeout):  # not ``wait_for``: on 3.11 it can swallow a cancellation
            await asyncio.shield(waiter.future)
    except TimeoutError:
        return write_concern_error(Code.WriteConcernFailed, "waiting for replication timed out", concern, wtimeout=True)
    except CommandError as error:
        return write_concern_error(error.code, error.message, concern)
    finally:
        if waiter in member.waiters:
            member.waiters.remove(waiter)
    return None


def _unsatisfiable(member: Member, w: Any, concern: dict[str, Any]) -> dict[str, Any] | None:
    """The writeConcernError for a concern no set could satisfy (unknown mode, too many members)."""
    config = member.data.config
    assert config is not None
    if isinstance(w, str) and w != "majority":
        message = f"No write concern mode named '{w}' found in replica set configuration"
        return write_concern_error(Code.UnknownReplWriteConcern, message, concern)
    data_members = sum(1 for m in config.members if m.data_bearing)
    if isinstance(w, int) and w > data_members:
        return write_concern_error(Code.UnsatisfiableWriteConcern, "Not enough data-bearing nodes", concern)
    return None
