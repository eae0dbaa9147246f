"""The bus: names of buckets, keys and subjects; the envelope; typed KV access; events; intake."""

from .connection import Bus, connect, ensure_layout
from .envelope import SCHEMA_VERSION, InvalidValue, decode, encode
from .names import Bucket, InstanceKey, Kind
from .objects import StatusRecord, StoredObject
from .store import Conflict, Entry, KeyChange, Outcome, TypedKV

__all__ = [
    "SCHEMA_VERSION",
    "Bucket",
    "Bus",
    "Conflict",
    "Entry",
    "InstanceKey",
    "InvalidValue",
    "KeyChange",
    "Kind",
    "Outcome",
    "StatusRecord",
    "StoredObject",
    "TypedKV",
    "connect",
    "decode",
    "encode",
    "ensure_layout",
]
