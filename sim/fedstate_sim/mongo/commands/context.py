"""What a command handler sees: the member, the client connection, the database, read preference.

``ConnectionState`` lives as long as one client socket: its id (hello's
``connectionId``), whether it comes over the loopback interface (only a shell inside
the pod, through ``pods/exec``, does), the users it authenticated as, and open SASL
conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.scram import ScramConversation


@dataclass
class ConnectionState:
    id: int
    remote: str
    local: bool = False  # over the pod's loopback interface: the localhost exception may apply
    users: set[tuple[str, str]] = field(default_factory=set)  # (user, db) authenticated on this socket
    conversations: dict[int, ScramConversation] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)  # handshake metadata (driver, os, app name)
    _next_conversation: int = 0

    def new_conversation(self, conversation: ScramConversation) -> int:
        self._next_conversation += 1
        self.conversations[self._next_conversation] = conversation
        return self._next_conversation


@dataclass
class CommandContext:
    member: Member
    conn: ConnectionState
    db: str
    legacy_secondary_ok: bool = False
    read_preference: dict[str, Any] | None = None
    read_level: str = "local"  # the command's readConcern level, as dispatch parsed it (``readconcern``)

    @property
    def now(self) -> float:
        return self.member.services.scheduler.now()

    def secondary_ok(self) -> bool:
        """May a read run on a secondary? ($readPreference other than primary, or OP_QUERY's bit)."""
        mode = (self.read_preference or {}).get("mode", "primary")
        return self.legacy_secondary_ok or mode != "primary"
