"""Catalog commands: listDatabases, listCollections, create, drop, dropDatabase, indexes, dbStats.

Collections exist once something is written to them (or ``create`` ran).
Indexes are accepted and ignored: every collection reports only its ``_id`` index.
"""

from __future__ import annotations

from typing import Any

import bson

from fedstate_sim.mongo import query
from fedstate_sim.mongo.commands.context import CommandContext
from fedstate_sim.mongo.commands.crud import cursor_reply, documents, namespace
from fedstate_sim.mongo.commands.registry import Reply, command
from fedstate_sim.mongo.commands.writes import Writer
from fedstate_sim.mongo.errors import Code, CommandError

Doc = dict[str, Any]
_ID_INDEX = {"v": 2, "key": {"_id": 1}, "name": "_id_"}
_SYSTEM_DBS = ("admin", "config", "local")


def _size(docs: dict[Any, Doc]) -> int:
    return sum(len(bson.encode(d)) for d in docs.values())


def _collections_of(ctx: CommandContext, db: str) -> dict[str, dict[Any, Doc]]:
    prefix = db + "."
    return {ns[len(prefix) :]: docs for ns, docs in ctx.member.data.collections.items() if ns.startswith(prefix)}


@command("listDatabases", where="reads")
async def list_databases(ctx: CommandContext, cmd: Doc) -> Reply:
    names = sorted({ns.split(".", 1)[0] for ns in ctx.member.data.collections} | set(_SYSTEM_DBS))
    if cmd.get("nameOnly"):
        return {"databases": [{"name": n} for n in names], "ok": 1.0}
    databases = []
    for name in names:
        size = sum(_size(docs) for docs in _collections_of(ctx, name).values())
        databases.append({"name": name, "sizeOnDisk": size, "empty": size == 0})
    return {"databases": databases, "totalSize": sum(d["sizeOnDisk"] for d in databases), "ok": 1.0}


@command("listCollections", where="reads")
async def list_collections(ctx: CommandContext, cmd: Doc) -> Reply:
    infos = [
        {"name": name, "type": "collection", "options": {}, "info": {"readOnly": False}, "idIndex": _ID_INDEX}
        for name in sorted(_collections_of(ctx, ctx.db))
    ]
    infos = [i for i in infos if query.matches(i, cmd.get("filter"))]
    if cmd.get("nameOnly"):
        infos = [{"name": i["name"], "type": i["type"]} for i in infos]
    return cursor_reply(f"{ctx.db}.$cmd.listCollections", infos)


@command("create", where="primary")
async def create(ctx: CommandContext, cmd: Doc) -> Reply:
    ns = namespace(ctx, cmd)
    if ns in ctx.member.data.collections:
        raise CommandError(Code.NamespaceExists, f"Collection {ns} already exists.")
    writer = Writer(ctx, cmd)
    writer.append("c", f"{ctx.db}.$cmd", {"create": cmd["create"]})
    return await writer.finish({"ok": 1.0})


@command("drop", where="primary")
async def drop(ctx: CommandContext, cmd: Doc) -> Reply:
    ns = namespace(ctx, cmd)
    writer = Writer(ctx, cmd)
    if ns in ctx.member.data.collections:
        writer.append("c", f"{ctx.db}.$cmd", {"drop": cmd["drop"]})
    return await writer.finish({"ns": ns, "nIndexesWas": 1, "ok": 1.0})


@command("dropDatabase", where="primary")
async def drop_database(ctx: CommandContext, cmd: Doc) -> Reply:
    writer = Writer(ctx, cmd)
    if _collections_of(ctx, ctx.db):
        writer.append("c", f"{ctx.db}.$cmd", {"dropDatabase": 1})
    return await writer.finish({"dropped": ctx.db, "ok": 1.0})


@command("createIndexes", where="primary")
async def create_indexes(ctx: CommandContext, cmd: Doc) -> Reply:
    ns = namespace(ctx, cmd)
    created = ns not in ctx.member.data.collections
    writer = Writer(ctx, cmd)
    if created:
        writer.append("c", f"{ctx.db}.$cmd", {"create": cmd["createIndexes"]})
    reply = {
        "numIndexesBefore": 1,
        "numIndexesAfter": 1,
        "createdCollectionAutomatically": created,
        "note": "indexes are not simulated (fedstate simulator)",
        "ok": 1.0,
    }
    return await writer.finish(reply)


@command("listIndexes", where="reads")
async def list_indexes(ctx: CommandContext, cmd: Doc) -> Reply:
    ns = namespace(ctx, cmd)
    if ns not in ctx.member.data.collections:
        raise CommandError(Code.NamespaceNotFound, f"ns does not exist: {ns}")
    return cursor_reply(ns, [_ID_INDEX])


@command("dbStats", where="reads")
async def db_stats(ctx: CommandContext, cmd: Doc) -> Reply:
    collections = _collections_of(ctx, ctx.db)
    objects = sum(len(docs) for docs in collections.values())
    size = sum(_size(docs) for docs in collections.values())
    return {
        "db": ctx.db,
        "collections": len(collections),
        "views": 0,
        "objects": objects,
        "dataSize": float(size),
        "storageSize": float(size),
        "indexes": len(collections),
        "ok": 1.0,
    }


@command("collStats", where="reads")
async def coll_stats(ctx: CommandContext, cmd: Doc) -> Reply:
    ns = namespace(ctx, cmd)
    docs = documents(ctx, ns)
    return {"ns": ns, "count": len(docs), "size": _size(docs), "nindexes": 1, "ok": 1.0}
