"""saslStart / saslContinue (SCRAM-SHA-256 and SCRAM-SHA-1) and hello's speculative authentication.

Users are looked up in the member's replicated ``admin.system.users``; a
successful conversation marks the connection authenticated. pymongo's
``skipEmptyExchange`` option ends the conversation with the server signature.
"""

from __future__ import annotations

from typing import Any

from bson import Binary

from fedstate_sim.mongo.commands.context import CommandContext
from fedstate_sim.mongo.commands.registry import Reply, command
from fedstate_sim.mongo.errors import Code, CommandError
from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.scram import SCRAM_SHA_1, SCRAM_SHA_256, ScramConversation, as_bytes, user_from_payload
from fedstate_sim.mongo.versions import SCRAM_SHA_256_SINCE, has

MECHANISMS = (SCRAM_SHA_256, SCRAM_SHA_1)


def find_user(member: Member, db: str, user: str) -> dict[str, Any] | None:
    return member.data.user(db, user)


def _credential(member: Member, conversation: ScramConversation) -> dict[str, Any] | None:
    user = find_user(member, conversation.db, conversation.user)
    return user["credentials"].get(conversation.mechanism) if user else None


def mechanisms_for(member: Member, spec: str) -> list[str] | None:
    """hello's saslSupportedMechs for ``db.user`` (None when the user does not exist)."""
    db, _, name = spec.partition(".")
    user = find_user(member, db, name)
    return sorted(user["credentials"]) if user else None


def _start(ctx: CommandContext, cmd: dict[str, Any], db: str, speculative: bool = False) -> Reply:
    mechanism = cmd.get("mechanism")
    if mechanism not in MECHANISMS or (
        mechanism == SCRAM_SHA_256 and not has(ctx.member.launch.image, SCRAM_SHA_256_SINCE)
    ):
        raise CommandError(
            Code.MechanismUnavailable, f"Received authentication for mechanism {mechanism} which is not enabled"
        )
    payload = as_bytes(cmd.get("payload", b""))
    conversation = ScramConversation(str(mechanism), user_from_payload(payload), db)
    conversation.skip_empty_exchange = bool((cmd.get("options") or {}).get("skipEmptyExchange"))
    try:
        server_first = conversation.start(payload, _credential(ctx.member, conversation))
    except CommandError:
        # mongod logs every failed login, an unknown user and a speculative one (hello's) included
        ctx.member.log(
            "authentication of %s@%s failed (%s%s)",
            conversation.user,
            db,
            "UserNotFound" if find_user(ctx.member, db, conversation.user) is None else "AuthenticationFailed",
            ", speculative" if speculative else "",
        )
        raise
    conversation_id = ctx.conn.new_conversation(conversation)
    return {"conversationId": conversation_id, "done": False, "payload": Binary(server_first), "ok": 1.0}


def speculative_start(ctx: CommandContext, cmd: dict[str, Any]) -> Reply | None:
    """hello's speculativeAuthenticate: the saslStart reply, or None to let the driver start over."""
    try:
        reply = _start(ctx, cmd, str(cmd.get("db", "admin")), speculative=True)
    except CommandError:
        return None
    reply.pop("ok")
    return reply


@command("saslStart", auth=False)
async def sasl_start(ctx: CommandContext, cmd: dict[str, Any]) -> Reply:
    return _start(ctx, cmd, ctx.db)


@command("saslContinue", auth=False)
async def sasl_continue(ctx: CommandContext, cmd: dict[str, Any]) -> Reply:
    conversation_id = int(cmd.get("conversationId", 0))
    conversation = ctx.conn.conversations.get(conversation_id)
    if conversation is None:
        raise CommandError(Code.AuthenticationFailed, "No SASL session state found")
    if conversation.done:  # the empty final round of a conversation without skipEmptyExchange
        del ctx.conn.conversations[conversation_id]
        return {"conversationId": conversation_id, "done": True, "payload": Binary(b""), "ok": 1.0}
    credential = _credential(ctx.member, conversation)
    try:
        if credential is None:
            raise CommandError(Code.AuthenticationFailed, "Authentication failed.")
        server_final = conversation.finish(as_bytes(cmd.get("payload", b"")), credential)
    except CommandError:
        del ctx.conn.conversations[conversation_id]
        ctx.member.log("authentication of %s@%s failed", conversation.user, conversation.db)
        raise
    ctx.conn.users.add((conversation.user, conversation.db))
    if conversation.skip_empty_exchange:
        del ctx.conn.conversations[conversation_id]
    return {
        "conversationId": conversation_id,
        "done": conversation.skip_empty_exchange,
        "payload": Binary(server_final),
        "ok": 1.0,
    }


@command("logout", auth=False)
async def logout(ctx: CommandContext, cmd: dict[str, Any]) -> Reply:
    ctx.conn.users.clear()
    return {"ok": 1.0}
