"""The bus: names of buckets, keys and subjects; the envelope; typed KV access; events; intake.

The names below load on first use (``fedstate.lazy``), so ``fedstate.bus.names`` can be imported
without importing nats: the CLI reads key and kind names but never opens a connection itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedstate import lazy

if TYPE_CHECKING:
    from .connection import Bus, connect, ensure_layout
    from .envelope import SCHEMA_VERSION, InvalidValue, decode, encode
    from .names import Bucket, InstanceKey, Kind
    from .objects import StatusRecord, StoredObject
    from .store import Conflict, Entry, KeyChange, Outcome, TypedKV

__getattr__ = lazy.exports(
    __name__,
    {
        "connection": ("Bus", "connect", "ensure_layout"),
        "envelope": ("SCHEMA_VERSION", "InvalidValue", "decode", "encode"),
        "names": ("Bucket", "InstanceKey", "Kind"),
        "objects": ("StatusRecord", "StoredObject"),
        "store": ("Conflict", "Entry", "KeyChange", "Outcome", "TypedKV"),
    },
)

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
