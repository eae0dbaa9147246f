"""Replica-set configuration as MongoDB sees it (``replSetGetConfig``), in our own typed shape."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from .base import WireModel

MAX_VOTERS = 7


class OpTime(WireModel):
    """A member's last applied write: its election term, then its timestamp (seconds, increment)."""

    ts: int  # seconds since the epoch
    i: int = 0  # the increment within that second
    t: int = -1  # the term it was written in (-1: unknown, as mongod's uninitialized term)

    def key(self) -> tuple[int, int, int]:
        """MongoDB's order of optimes: by term, then by timestamp."""
        return (self.t, self.ts, self.i)

    def describe(self) -> str:
        return f"{{ts: {self.ts}.{self.i}, t: {self.t}}}"


class RsMember(WireModel):
    id: int = Field(alias="_id")
    host: str
    votes: Annotated[int, Field(ge=0, le=1)] = 1
    priority: Annotated[float, Field(ge=0, le=1000)] = 1
    arbiter_only: bool = False

    def to_mongo(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"_id": self.id, "host": self.host, "votes": self.votes}
        doc["priority"] = int(self.priority) if float(self.priority).is_integer() else self.priority
        if self.arbiter_only:
            doc["arbiterOnly"] = True
        return doc


class RsConfig(WireModel):
    id: str = Field(alias="_id")
    version: int = 1
    members: list[RsMember] = Field(default_factory=list)

    def to_mongo(self) -> dict[str, Any]:
        return {"_id": self.id, "version": self.version, "members": [m.to_mongo() for m in self.members]}

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> RsConfig:
        members = [
            RsMember.model_validate(
                {
                    "_id": m["_id"],
                    "host": m["host"],
                    "votes": m.get("votes", 1),
                    "priority": m.get("priority", 1),
                    "arbiterOnly": m.get("arbiterOnly", False),
                }
            )
            for m in doc.get("members", [])
        ]
        return cls.model_validate({"_id": doc["_id"], "version": doc.get("version", 1), "members": members})

    def voters(self) -> list[RsMember]:
        return [m for m in self.members if m.votes]

    def hosts(self) -> set[str]:
        return {m.host for m in self.members}
