"""Document commands: insert, update, delete, find, count, distinct, aggregate, getMore, killCursors.

Writes run on the primary only (NotWritablePrimary elsewhere) and go through
``Writer``; reads run on the primary, or on a secondary when the client's read
preference allows it; readConcern "majority" reads the majority-committed state. Every cursor is returned in one batch (cursor id 0), so
getMore only ever answers CursorNotFound.
"""

from __future__ import annotations

from typing import Any

from bson import Int64, ObjectId

from fedstate_sim.mongo import query
from fedstate_sim.mongo.commands.context import CommandContext
from fedstate_sim.mongo.commands.registry import Reply, command
from fedstate_sim.mongo.commands.writes import Writer, stmt_key
from fedstate_sim.mongo.errors import Code, CommandError, error_doc
from fedstate_sim.mongo.storage import id_key
from fedstate_sim.mongo.updates import apply_update, is_operator_update, upsert_seed

Doc = dict[str, Any]


def namespace(ctx: CommandContext, cmd: Doc) -> str:
    collection = next(iter(cmd.values()))
    if not isinstance(collection, str) or not collection:
        raise CommandError(Code.InvalidOptions, "collection name must be a non-empty string")
    return f"{ctx.db}.{collection}"


def documents(ctx: CommandContext, ns: str) -> dict[Any, Doc]:
    return ctx.member.data.collections.get(ns, {})


def readable(ctx: CommandContext, ns: str) -> dict[Any, Doc]:
    """What a read sees: readConcern "majority" sees the member's majority commit point, any other
    level (local, available, ...) everything the member has applied (``readconcern``)."""
    member = ctx.member
    if ctx.read_level == "majority" and member.commit_point < member.last_optime:
        return member.data.collections_at(member.commit_point).get(ns, {})
    return documents(ctx, ns)


def cursor_reply(ns: str, batch: list[Doc]) -> Reply:
    return {"cursor": {"firstBatch": batch, "id": Int64(0), "ns": ns}, "ok": 1.0}


def _duplicate(index: int, ns: str, value: Any) -> Doc:
    message = f"E11000 duplicate key error collection: {ns} index: _id_ dup key: {{ _id: {value!r} }}"
    return {"index": index, **error_doc(Code.DuplicateKey, message)}


@command("insert", where="primary")
async def insert(ctx: CommandContext, cmd: Doc) -> Reply:
    ns, writer = namespace(ctx, cmd), Writer(ctx, cmd)
    ordered, errors, n = cmd.get("ordered", True), [], 0
    for index, doc in enumerate(cmd.get("documents", [])):
        key = stmt_key(cmd, index)
        if writer.done_before(key) is not None:
            n += 1
            continue
        doc = doc if "_id" in doc else {"_id": ObjectId(), **doc}
        if id_key(doc["_id"]) in documents(ctx, ns):
            errors.append(_duplicate(index, ns, doc["_id"]))
            if ordered:
                break
            continue
        writer.append("i", ns, doc, key)
        n += 1
    reply: Reply = {"n": n, "ok": 1.0}
    if errors:
        reply["writeErrors"] = errors
    return await writer.finish(reply)


@command("delete", where="primary")
async def delete(ctx: CommandContext, cmd: Doc) -> Reply:
    ns, writer, n = namespace(ctx, cmd), Writer(ctx, cmd), 0
    for index, spec in enumerate(cmd.get("deletes", [])):
        key = stmt_key(cmd, index)
        previous = writer.done_before(key)
        if previous is not None:
            n += previous
            continue
        matched = [d for d in documents(ctx, ns).values() if query.matches(d, spec.get("q"))]
        if spec.get("limit", 0):
            matched = matched[:1]
        for doc in matched:
            writer.append("d", ns, {"_id": doc["_id"]}, key, len(matched))
        n += len(matched)
    return await writer.finish({"n": n, "ok": 1.0})


@command("update", where="primary")
async def update(ctx: CommandContext, cmd: Doc) -> Reply:
    ns, writer = namespace(ctx, cmd), Writer(ctx, cmd)
    totals: Doc = {"n": 0, "nModified": 0, "upserted": []}
    for index, spec in enumerate(cmd.get("updates", [])):
        key = stmt_key(cmd, index)
        previous = writer.done_before(key)
        if previous is not None:
            totals["n"] += previous
            continue
        _update_one_spec(ctx, ns, writer, spec, index, key, totals)
    reply: Reply = {"n": totals["n"], "nModified": totals["nModified"], "ok": 1.0}
    if totals["upserted"]:
        reply["upserted"] = totals["upserted"]
    return await writer.finish(reply)


def _update_one_spec(
    ctx: CommandContext, ns: str, writer: Writer, spec: Doc, index: int, key: Any, totals: Doc
) -> None:
    matched = [d for d in documents(ctx, ns).values() if query.matches(d, spec.get("q"))]
    if not spec.get("multi"):
        matched = matched[:1]
    if spec.get("multi") and not is_operator_update(spec.get("u", {})):
        raise CommandError(Code.FailedToParse, "multi update is not supported for replacement-style update")
    for doc in matched:
        new = apply_update(doc, spec.get("u", {}))
        if new != doc:
            writer.append("u", ns, new, key, len(matched))
            totals["nModified"] += 1
    totals["n"] += len(matched)
    if not matched and spec.get("upsert"):
        new = apply_update(upsert_seed(spec.get("q")), spec.get("u", {}), inserting=True)
        new = new if "_id" in new else {"_id": ObjectId(), **new}
        writer.append("i", ns, new, key)
        totals["upserted"].append({"index": index, "_id": new["_id"]})
        totals["n"] += 1


@command("find", where="reads")
async def find(ctx: CommandContext, cmd: Doc) -> Reply:
    ns = namespace(ctx, cmd)
    limit = int(cmd.get("limit", 0) or 0)
    if cmd.get("singleBatch") and cmd.get("batchSize"):
        limit = min(limit or int(cmd["batchSize"]), int(cmd["batchSize"]))
    batch = query.find(
        readable(ctx, ns).values(),
        cmd.get("filter"),
        cmd.get("sort"),
        int(cmd.get("skip", 0) or 0),
        limit,
        cmd.get("projection"),
    )
    return cursor_reply(ns, batch)


@command("count", where="reads")
async def count(ctx: CommandContext, cmd: Doc) -> Reply:
    ns = namespace(ctx, cmd)
    matched = [d for d in readable(ctx, ns).values() if query.matches(d, cmd.get("query"))]
    matched = matched[int(cmd.get("skip", 0) or 0) :]
    limit = int(cmd.get("limit", 0) or 0)
    return {"n": len(matched[:limit] if limit else matched), "ok": 1.0}


@command("distinct", where="reads")
async def distinct(ctx: CommandContext, cmd: Doc) -> Reply:
    ns, field, values = namespace(ctx, cmd), str(cmd.get("key", "")), []
    for doc in readable(ctx, ns).values():
        value = query.get_path(doc, field)
        if query.matches(doc, cmd.get("query")) and value is not query.MISSING and value not in values:
            values.append(value)
    return {"values": values, "ok": 1.0}


@command("aggregate", where="reads")
async def aggregate(ctx: CommandContext, cmd: Doc) -> Reply:
    target = cmd["aggregate"]
    if target == 1:
        raise CommandError(Code.BadValue, "database-level aggregation is not supported by the simulator")
    ns = namespace(ctx, cmd)
    return cursor_reply(ns, query.run_pipeline(readable(ctx, ns).values(), cmd.get("pipeline", [])))


@command("getMore")
async def get_more(ctx: CommandContext, cmd: Doc) -> Reply:
    raise CommandError(Code.CursorNotFound, f"cursor id {cmd.get('getMore')} not found")


@command("killCursors")
async def kill_cursors(ctx: CommandContext, cmd: Doc) -> Reply:
    ids = list(cmd.get("cursors", []))
    return {"cursorsKilled": [], "cursorsNotFound": ids, "cursorsAlive": [], "cursorsUnknown": [], "ok": 1.0}
