"""What a member knows without being the member: its state values and its views of peers.

``State`` is mongod's member-state enum; ``PeerView`` is what one member last
learnt about a peer from heartbeats (``Snapshot`` is what a heartbeat reply
carries); ``WriteWaiter`` is a client waiting for replication; ``election_id``
is mongod's electionId for a term.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import IntEnum

from bson import ObjectId

from fedstate_sim.mongo.storage import NULL_OPTIME, OpTime


class State(IntEnum):
    """mongod's member states (replSetGetStatus ``state``)."""

    STARTUP = 0
    PRIMARY = 1
    SECONDARY = 2
    RECOVERING = 3
    STARTUP2 = 5
    UNKNOWN = 6
    ARBITER = 7
    DOWN = 8
    ROLLBACK = 9
    REMOVED = 10

    @property
    def label(self) -> str:
        return "(not reachable/healthy)" if self is State.DOWN else self.name


def election_id(term: int) -> ObjectId:
    """mongod's electionId for a protocol-version-1 term: 7fffffff followed by the term."""
    return ObjectId(b"\x7f\xff\xff\xff" + term.to_bytes(8, "big"))


@dataclass
class WriteWaiter:
    """A client waiting for its write to reach ``w`` members."""

    optime: OpTime
    w: int | str
    future: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


Snapshot = tuple[State, OpTime, int, int, str | None, float]  # what a heartbeat reply carries


class Freshness:
    """When a member last confirmed, in a quiet round, that every peer it could reach still answers."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = float("-inf")


class PeerView:
    """What a member last learnt about one peer from heartbeats.

    ``last_ok`` is the last successful heartbeat: the last full round that reached
    the peer, or the owner's last quiet round (see replset.py) while the peer was
    still answering at the end of the previous full round.
    """

    __slots__ = (
        "_last_ok",
        "config_version",
        "first_seen",
        "freshness",
        "message",
        "optime",
        "snapshot",
        "state",
        "sync_source",
        "term",
        "up_since",
    )

    def __init__(self, now: float, freshness: Freshness) -> None:
        self.first_seen = now
        self.freshness = freshness
        self._last_ok: float | None = None
        self.snapshot: Snapshot | None = None
        self.state = State.UNKNOWN
        self.optime = NULL_OPTIME
        self.term = -1
        self.config_version = -2
        self.sync_source: str | None = None
        self.up_since = now
        self.message = ""

    @property
    def last_ok(self) -> float | None:
        last = self._last_ok
        if last is not None and self.snapshot is not None and self.freshness.at > last:
            return self.freshness.at
        return last

    def record(self, snapshot: Snapshot, now: float) -> bool:
        """A heartbeat reply arrived; unpack it only if the peer changed. True if it changed."""
        self._last_ok = now
        if snapshot is self.snapshot:
            return False
        self.snapshot = snapshot
        self.state, self.optime, self.term, self.config_version, self.sync_source, self.up_since = snapshot
        self.message = ""
        return True

    def fail(self, message: str) -> None:
        self._last_ok = self.last_ok
        self.message = message
        self.snapshot = None

    def healthy(self, now: float, timeout: float) -> bool:
        return self.last_ok is not None and now - self.last_ok <= timeout

    def seen_state(self, now: float, timeout: float) -> State:
        if self.healthy(now, timeout):
            return self.state
        return State.DOWN if now - self.first_seen > timeout or self.last_ok else State.UNKNOWN
