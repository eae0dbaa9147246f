"""Member data: the oplog, the collections it produces, the replica-set config and election state.

There is no storage engine. A member's collections are whatever its oplog
replays to; rollback truncates the oplog and replays it again. ``DataStore``
keys ``MemberData`` by the data volume (``data_key``), so a restarted pod that
mounts the same volume resumes with its config, term and documents.

The journal: ``durable`` is the newest entry a journal flush has made durable (mongod's lastDurable). A flush
comes with every write waiting for ``j`` or for a majority, after every batch a secondary applies, at the end of an
initial sync, a rollback or a clean shutdown, and from the periodic flusher (``journaled_by``). An unclean stop
loses what is newer (``lose_unjournaled``): an acknowledged w:1 write its member had not flushed is gone from it.
The config, term, vote and minValid are written durably as they change, as mongod writes them.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import bson
from bson import Int64, Timestamp

if TYPE_CHECKING:
    from fedstate_sim.mongo.rsconfig import RsConfig

USERS_NS = "admin.system.users"
# mongod keeps its featureCompatibilityVersion here, replicated and persisted like any document
SYSTEM_VERSION_NS = "admin.system.version"
FCV_ID = "featureCompatibilityVersion"
StmtKey = tuple[bytes, int, int]  # (lsid id, txnNumber, stmtId) of a retryable write


class OpTime(NamedTuple):
    """An oplog position; tuple order (term, seconds, increment) is MongoDB's optime order."""

    t: int
    secs: int
    inc: int

    def to_doc(self) -> dict[str, Any]:
        return {"ts": Timestamp(self.secs, self.inc), "t": Int64(self.t)}

    def date(self) -> datetime:
        return datetime.fromtimestamp(self.secs, UTC)

    @property
    def stamp(self) -> tuple[int, int]:
        """(seconds, increment): the optime's timestamp alone, as cluster times are compared."""
        return self.secs, self.inc


NULL_OPTIME = OpTime(-1, 0, 0)


def next_optime(term: int, last: OpTime) -> OpTime:
    """A fresh optime for a write in ``term``, strictly after ``last``."""
    secs = int(time.time())
    if secs > last.secs:
        return OpTime(term, secs, 1)
    return OpTime(term, last.secs, last.inc + 1)


def id_key(value: Any) -> Any:
    """A hashable stand-in for an ``_id`` value (documents and arrays are keyed by their BSON)."""
    if isinstance(value, dict | list):
        return bson.encode({"v": value})
    return value


@dataclass(frozen=True, slots=True)
class OplogEntry:
    """One replicated write. Entries are shared between members and never mutated."""

    optime: OpTime
    op: str  # i insert, u replace, d delete, c command (create/drop/dropDatabase), n no-op
    ns: str
    doc: dict[str, Any]  # i/u: the document; d: {_id}; c: the command; n: {msg}
    created: float  # monotonic time of the write on the primary; replication lag counts from it
    stmt: StmtKey | None = None
    result: int = 1  # what the statement reported (n), replayed for a retried write

    def describe(self) -> dict[str, Any]:
        """The entry as a rollback record shows it."""
        return {"op": self.op, "ns": self.ns, "o": self.doc, "ts": self.optime.to_doc()}


@dataclass
class MemberData:
    """Everything a member keeps on its data volume."""

    key: str
    config: RsConfig | None = None
    term: int = 0
    vote_term: int = -1  # the last term this member voted in ...
    vote_for: int | None = None  # ... and for whom (member _id)
    oplog: list[OplogEntry] = field(default_factory=list)
    collections: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    statements: dict[StmtKey, int] = field(default_factory=dict)
    # What the member must hold before it is consistent again after a rollback (mongod's minValid document in
    # local.replset.minvalid): on the volume, so a member restarted before it caught up is still RECOVERING.
    min_valid: OpTime = NULL_OPTIME
    durable: OpTime = NULL_OPTIME  # the newest entry on the journal: what an unclean stop keeps

    @property
    def last_optime(self) -> OpTime:
        return self.oplog[-1].optime if self.oplog else NULL_OPTIME

    def is_empty(self) -> bool:
        return not self.oplog and not self.collections

    def has_users(self) -> bool:
        return bool(self.collections.get(USERS_NS))

    def user(self, db: str, name: str) -> dict[str, Any] | None:
        """The user document of ``name`` defined on ``db``, if any."""
        return self.collections.get(USERS_NS, {}).get(f"{db}.{name}")

    def feature_compatibility_version(self) -> str | None:
        """The FCV this data was last set to (None: a member never initiated nor synced)."""
        doc = self.collections.get(SYSTEM_VERSION_NS, {}).get(FCV_ID)
        return str(doc["version"]) if doc is not None else None

    def append(self, entry: OplogEntry) -> None:
        self.oplog.append(entry)
        self._apply(entry)

    def extend(self, entries: list[OplogEntry]) -> None:
        for entry in entries:
            self.append(entry)

    def index_of(self, optime: OpTime) -> int | None:
        """Position of the entry with exactly this optime, or None."""
        pos = bisect.bisect_left(self.oplog, optime, key=_optime_of)
        if pos < len(self.oplog) and self.oplog[pos].optime == optime:
            return pos
        return None

    def entries_after(self, optime: OpTime) -> list[OplogEntry]:
        pos = bisect.bisect_right(self.oplog, optime, key=_optime_of)
        return self.oplog[pos:]

    def collections_at(self, optime: OpTime) -> dict[str, dict[Any, dict[str, Any]]]:
        """The collections as they stood once every entry up to ``optime`` was applied (a replay)."""
        view = MemberData(key=self.key)
        for entry in self.oplog[: bisect.bisect_right(self.oplog, optime, key=_optime_of)]:
            view._apply(entry)
        return view.collections

    def truncate(self, keep: int) -> list[OplogEntry]:
        """Drop every entry after the first ``keep`` and rebuild the collections; returns the dropped."""
        removed = self.oplog[keep:]
        del self.oplog[keep:]
        self.collections = {}
        self.statements = {}
        for entry in self.oplog:
            self._apply(entry)
        self.durable = min(self.durable, self.last_optime)
        return removed

    def replace_with(self, oplog: list[OplogEntry]) -> None:
        """Initial sync: take a copy of another member's oplog (made durable as the sync ends)."""
        self.oplog = []
        self.collections = {}
        self.statements = {}
        self.extend(oplog)
        self.flush_journal()

    def flush_journal(self) -> None:
        """A journal flush: every entry so far is durable."""
        self.durable = self.last_optime

    def journaled_by(self, flushed_at: float) -> OpTime:
        """What is durable once the periodic flusher has run at ``flushed_at`` (monotonic): the entries written by
        then. Only this member's own writes can be newer than ``durable`` (a secondary flushes each batch it
        applies), and those are in the order of their ``created``."""
        if self.durable == self.last_optime:
            return self.durable  # the common case, on every commit-point computation: nothing to look through
        first_unflushed = bisect.bisect_right(self.oplog, self.durable, key=_optime_of)
        for index in range(len(self.oplog) - 1, first_unflushed - 1, -1):
            if self.oplog[index].created <= flushed_at:
                self.durable = self.oplog[index].optime
                break
        return self.durable

    def lose_unjournaled(self) -> list[OplogEntry]:
        """An unclean stop: every entry newer than the journal is gone. Returns the lost."""
        return self.truncate(bisect.bisect_right(self.oplog, self.durable, key=_optime_of))

    def _apply(self, entry: OplogEntry) -> None:
        if entry.stmt is not None:
            self.statements[entry.stmt] = entry.result
        if entry.op in ("i", "u"):
            self.collections.setdefault(entry.ns, {})[id_key(entry.doc["_id"])] = entry.doc
        elif entry.op == "d":
            self.collections.get(entry.ns, {}).pop(id_key(entry.doc["_id"]), None)
        elif entry.op == "c":
            self._apply_command(entry.ns, entry.doc)

    def _apply_command(self, ns: str, command: dict[str, Any]) -> None:
        db = ns.split(".", 1)[0]
        if "create" in command:
            self.collections.setdefault(f"{db}.{command['create']}", {})
        elif "drop" in command:
            self.collections.pop(f"{db}.{command['drop']}", None)
        elif "dropDatabase" in command:
            for name in [n for n in self.collections if n.split(".", 1)[0] == db]:
                del self.collections[name]


def _optime_of(entry: OplogEntry) -> OpTime:
    return entry.optime


class DataStore:
    """Data volumes by ``data_key``; survives members stopping and starting."""

    def __init__(self) -> None:
        self._volumes: dict[str, MemberData] = {}

    def open(self, data_key: str) -> MemberData:
        if data_key not in self._volumes:
            self._volumes[data_key] = MemberData(data_key)
        return self._volumes[data_key]

    def forget(self, data_key: str) -> None:
        self._volumes.pop(data_key, None)

    def __contains__(self, data_key: object) -> bool:
        return data_key in self._volumes
