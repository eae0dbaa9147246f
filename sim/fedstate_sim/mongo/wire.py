"""MongoDB wire protocol framing: OP_MSG (2013), legacy OP_QUERY (2004) and OP_REPLY (1).

Pure functions over bytes; the socket handling lives in ``server.py``. BSON is
pymongo's own codec (``bson.encode`` / ``bson.decode``), so whatever a driver
can send, the simulator can read. The design note sim-notes.md records what pymongo
actually sends.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import bson
from bson.errors import InvalidBSON

from fedstate_sim.mongo.errors import Code, CommandError

OP_REPLY = 1
OP_QUERY = 2004
OP_COMPRESSED = 2012
OP_MSG = 2013

HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
MAX_MESSAGE_BYTES = 48_000_000

FLAG_CHECKSUM = 1 << 0
FLAG_MORE_TO_COME = 1 << 1
FLAG_EXHAUST_ALLOWED = 1 << 16
_REQUIRED_FLAGS = 0xFFFF  # the low 16 flag bits must be understood; the high ones may be ignored
_KNOWN_FLAGS = FLAG_CHECKSUM | FLAG_MORE_TO_COME

QUERY_FLAG_SECONDARY_OK = 1 << 2
REPLY_FLAG_QUERY_FAILURE = 1 << 1
REPLY_FLAG_AWAIT_CAPABLE = 1 << 3

_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")


class ProtocolError(Exception):
    """The peer sent bytes that are not a message we understand; the connection is closed."""


class MalformedMessage(CommandError):
    """An OP_MSG mongod rejects with an error reply (the connection stays open): bad BSON, an unknown
    section kind, no body or two bodies (mongod's OpMsg::parse)."""

    def __init__(self, request_id: int, code: int, message: str) -> None:
        super().__init__(code, message)
        self.request_id = request_id


@dataclass
class Request:
    """One decoded client message: a command document plus how to answer it."""

    request_id: int
    op_code: int
    command: dict[str, Any]
    db: str
    flags: int = 0
    legacy_secondary_ok: bool = False  # OP_QUERY's SecondaryOk bit
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def more_to_come(self) -> bool:
        """The client expects no reply (unacknowledged write)."""
        return self.op_code == OP_MSG and bool(self.flags & FLAG_MORE_TO_COME)

    @property
    def exhaust_allowed(self) -> bool:
        return self.op_code == OP_MSG and bool(self.flags & FLAG_EXHAUST_ALLOWED)


def parse_header(raw: bytes) -> tuple[int, int, int, int]:
    """(length, request_id, response_to, op_code), validated."""
    length, request_id, response_to, op_code = HEADER.unpack(raw)
    if length < HEADER.size or length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message length {length} out of range")
    return length, request_id, response_to, op_code


def parse_request(request_id: int, op_code: int, body: bytes) -> Request:
    """Decode the body of an OP_MSG or OP_QUERY."""
    if op_code == OP_MSG:
        return _parse_op_msg(request_id, body)
    if op_code == OP_QUERY:
        try:
            return _parse_op_query(request_id, body)
        except (InvalidBSON, struct.error, IndexError, ValueError) as error:
            raise ProtocolError(f"malformed OP_QUERY: {error}") from error
    raise ProtocolError(f"unsupported opCode {op_code}")


def _parse_op_msg(request_id: int, body: bytes) -> Request:
    if len(body) < 4:
        raise ProtocolError("OP_MSG shorter than its flags")
    (flags,) = _UINT32.unpack_from(body, 0)
    if flags & ~_KNOWN_FLAGS & _REQUIRED_FLAGS:
        raise ProtocolError(f"Message contains illegal flags value: 0b{flags:032b}")  # mongod: fatal (223)
    try:
        command, sequences = _sections(body, len(body) - 4 if flags & FLAG_CHECKSUM else len(body))
    except (InvalidBSON, struct.error, IndexError, ValueError) as error:
        raise MalformedMessage(request_id, Code.InvalidBSON, f"invalid OP_MSG: {error}") from error
    except CommandError as error:
        raise MalformedMessage(request_id, error.code, error.message) from error
    command.update(sequences)  # kind-1 sections are arrays of the command (e.g. insert's documents)
    return Request(request_id, OP_MSG, command, str(command.get("$db", "admin")), flags)


def _sections(body: bytes, end: int) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The body (kind 0) and document sequences (kind 1) of an OP_MSG, by mongod's rules."""
    command: dict[str, Any] | None = None
    sequences: dict[str, list[Any]] = {}
    pos = 4
    while pos < end:
        kind = body[pos]
        pos += 1
        if kind == 0:
            if command is not None:
                raise CommandError(40430, "Multiple body sections in message")
            size = _INT32.unpack_from(body, pos)[0]
            if size < 5 or pos + size > end:
                raise CommandError(Code.InvalidBSON, f"BSONObj size: {size} is invalid")
            command = bson.decode(body[pos : pos + size])
            pos += size
        elif kind == 1:
            identifier, docs, pos = _parse_sequence(body, pos)
            sequences[identifier] = docs
        else:
            raise CommandError(40432, f"Unknown section kind {kind}")
    if command is None:
        raise CommandError(40587, "OP_MSG messages must have a body")
    return command, sequences


def _parse_sequence(body: bytes, pos: int) -> tuple[str, list[Any], int]:
    size = _INT32.unpack_from(body, pos)[0]
    end = pos + size
    name_end = body.index(b"\x00", pos + 4)
    identifier = body[pos + 4 : name_end].decode()
    docs = bson.decode_all(body[name_end + 1 : end])
    return identifier, docs, end


def _parse_op_query(request_id: int, body: bytes) -> Request:
    (flags,) = _INT32.unpack_from(body, 0)
    name_end = body.index(b"\x00", 4)
    collection = body[4:name_end].decode()
    pos = name_end + 1 + 8  # numberToSkip, numberToReturn
    size = _INT32.unpack_from(body, pos)[0]
    query = bson.decode(body[pos : pos + size])
    db, _, coll = collection.partition(".")
    extras: dict[str, Any] = {"collection": coll}
    if "$query" in query:  # legacy wrapping: {$query: cmd, $readPreference: ...}
        if "$readPreference" in query:
            extras["$readPreference"] = query["$readPreference"]
        query = query["$query"]
    return Request(request_id, OP_QUERY, query, db, flags, bool(flags & QUERY_FLAG_SECONDARY_OK), extras)


def encode_op_msg(response_to: int, request_id: int, doc: dict[str, Any], more_to_come: bool = False) -> bytes:
    """An OP_MSG reply with one kind-0 section."""
    payload = bson.encode(doc)
    flags = FLAG_MORE_TO_COME if more_to_come else 0
    length = HEADER.size + 4 + 1 + len(payload)
    return b"".join((HEADER.pack(length, request_id, response_to, OP_MSG), _UINT32.pack(flags), b"\x00", payload))


def encode_op_reply(response_to: int, request_id: int, doc: dict[str, Any], query_failure: bool = False) -> bytes:
    """An OP_REPLY carrying one document (the answer to a legacy OP_QUERY command)."""
    payload = bson.encode(doc)
    flags = REPLY_FLAG_AWAIT_CAPABLE | (REPLY_FLAG_QUERY_FAILURE if query_failure else 0)
    fixed = struct.pack("<iqii", flags, 0, 0, 1)
    length = HEADER.size + len(fixed) + len(payload)
    return HEADER.pack(length, request_id, response_to, OP_REPLY) + fixed + payload
