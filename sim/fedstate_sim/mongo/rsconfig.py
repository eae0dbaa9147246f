"""Replica-set configuration documents: parsing and MongoDB's validation rules (reconfig rules: reconfig.py).

Pure functions, no I/O. The rules follow mongod (and the design's
reference/mongodb-rules.md): at most 50 members and 7 voters, votes 0 or 1,
priority 0..1000, priority > 0 needs a vote, arbiters and hidden members have
priority 0, one arbiter at most, and a non-forced reconfig changes at most one
voting member. Errors carry mongod's codes and, as far as practical, its wording.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bson import ObjectId

from fedstate_sim.mongo.errors import Code, CommandError

MAX_MEMBERS = 50
MAX_VOTERS = 7
DEFAULT_PORT = 27017
_MEMBER_FIELDS = {
    "_id",
    "host",
    "votes",
    "priority",
    "arbiterOnly",
    "hidden",
    "buildIndexes",
    "tags",
    "secondaryDelaySecs",
    "slaveDelay",
    "newlyAdded",
}


def majority_of(voters: int) -> int:
    """More than half of ``voters``: two groups of voters that share none can never both have it."""
    return voters // 2 + 1


@dataclass(frozen=True)
class ConfigDefaults:
    """Timing settings a config gets when it does not name its own."""

    heartbeat_interval_millis: int
    election_timeout_millis: int


@dataclass(frozen=True, slots=True)
class MemberConfig:
    id: int
    host: str
    votes: int = 1
    priority: float = 1.0
    arbiter_only: bool = False
    hidden: bool = False
    build_indexes: bool = True
    secondary_delay_secs: int = 0
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def electable(self) -> bool:
        return self.priority > 0 and self.votes > 0 and not self.arbiter_only

    @property
    def data_bearing(self) -> bool:
        return not self.arbiter_only

    def to_doc(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "host": self.host,
            "arbiterOnly": self.arbiter_only,
            "buildIndexes": self.build_indexes,
            "hidden": self.hidden,
            "priority": self.priority,
            "tags": dict(self.tags),
            "secondaryDelaySecs": self.secondary_delay_secs,
            "votes": self.votes,
        }


@dataclass(frozen=True)
class RsConfig:
    name: str
    version: int
    term: int
    members: tuple[MemberConfig, ...]
    replica_set_id: ObjectId
    heartbeat_interval_millis: int
    election_timeout_millis: int
    chaining_allowed: bool = True

    @cached_property
    def _by_host(self) -> dict[str, MemberConfig]:
        return {m.host: m for m in self.members}

    def member(self, host: str) -> MemberConfig | None:
        return self._by_host.get(host)

    @cached_property
    def voters(self) -> tuple[MemberConfig, ...]:
        return tuple(m for m in self.members if m.votes > 0)

    @property
    def majority(self) -> int:
        """Votes needed to elect a primary or keep one."""
        return majority_of(len(self.voters))

    def is_majority(self, voters: int) -> bool:
        """Are this many voting members (the asking one included) enough to elect a primary, keep one, or
        commit a config?"""
        return voters >= self.majority

    @property
    def write_majority(self) -> int:
        """Members that must hold a write for w:"majority" (mongod's writeMajorityCount)."""
        return min(self.majority, sum(1 for m in self.voters if m.data_bearing))

    @property
    def implicit_write_concern(self) -> int | str:
        """mongod 5.0+'s implicit default w: 1 only when there is an arbiter and the data-bearing voters are
        no more than the voting majority (P-S-A); "majority" otherwise (e.g. 4 data members + 1 arbiter)."""
        arbiters = any(m.arbiter_only for m in self.members)
        data_voters = sum(1 for m in self.voters if m.data_bearing)
        return 1 if arbiters and data_voters <= self.majority else "majority"

    def with_version(self, version: int, term: int) -> RsConfig:
        return dataclasses.replace(self, version=version, term=term)

    def to_doc(self) -> dict[str, Any]:
        return {
            "_id": self.name,
            "version": self.version,
            "term": self.term,
            "protocolVersion": 1,
            "writeConcernMajorityJournalDefault": True,
            "members": [m.to_doc() for m in self.members],
            "settings": {
                "chainingAllowed": self.chaining_allowed,
                "heartbeatIntervalMillis": self.heartbeat_interval_millis,
                "heartbeatTimeoutSecs": max(1, self.election_timeout_millis // 1000),
                "electionTimeoutMillis": self.election_timeout_millis,
                "catchUpTimeoutMillis": -1,
                "catchUpTakeoverDelayMillis": 30000,
                "getLastErrorModes": {},
                "getLastErrorDefaults": {"w": 1, "wtimeout": 0},
                "replicaSetId": self.replica_set_id,
            },
        }


def _invalid(message: str) -> CommandError:
    return CommandError(Code.InvalidReplicaSetConfig, message)


def normalize_host(host: Any) -> str:
    if not isinstance(host, str) or not host:
        raise _invalid(f"member host must be a non-empty string, not {host!r}")
    name, sep, port = host.lower().rpartition(":")
    if not sep:
        return f"{host.lower()}:{DEFAULT_PORT}"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise _invalid(f"member host {host!r} has an invalid port")
    return f"{name}:{int(port)}"


def _number(doc: dict[str, Any], key: str, default: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandError(Code.TypeMismatch, f"{key} field must be a number, not {value!r}")
    return float(value)


def parse_member(doc: Any) -> MemberConfig:
    if not isinstance(doc, dict):
        raise _invalid("each member must be a document")
    unknown = set(doc) - _MEMBER_FIELDS
    if unknown:
        raise CommandError(Code.BadValue, f"Unexpected field {sorted(unknown)[0]} in replica set member configuration")
    if "_id" not in doc or "host" not in doc:
        raise _invalid("replica set member configuration needs _id and host")
    arbiter = bool(doc.get("arbiterOnly", False))
    return MemberConfig(
        id=int(_number(doc, "_id", 0)),
        host=normalize_host(doc["host"]),
        votes=int(_number(doc, "votes", 1)),
        priority=_number(doc, "priority", 0.0 if arbiter else 1.0),
        arbiter_only=arbiter,
        hidden=bool(doc.get("hidden", False)),
        build_indexes=bool(doc.get("buildIndexes", True)),
        secondary_delay_secs=int(_number(doc, "secondaryDelaySecs", doc.get("slaveDelay", 0))),
        tags=tuple(sorted((str(k), str(v)) for k, v in (doc.get("tags") or {}).items())),
    )


def parse_config(doc: Any, defaults: ConfigDefaults, *, version_required: bool) -> RsConfig:
    """A config document as replSetInitiate/replSetReconfig receive it, checked against every rule."""
    if not isinstance(doc, dict):
        raise _invalid("the replica set configuration must be a document")
    if not isinstance(doc.get("_id"), str) or not doc["_id"]:
        raise _invalid("the replica set configuration needs a string _id (the set name)")
    if "version" not in doc and version_required:
        raise _invalid("the replica set configuration needs a version field")
    if doc.get("protocolVersion", 1) != 1:
        raise _invalid("only protocolVersion 1 is supported")
    members = doc.get("members")
    if not isinstance(members, list):
        raise _invalid("the replica set configuration needs a members array")
    settings = doc.get("settings") or {}
    config = RsConfig(
        name=doc["_id"],
        version=int(_number(doc, "version", 1)),
        term=int(_number(doc, "term", 0)),
        members=tuple(parse_member(m) for m in members),
        replica_set_id=settings.get("replicaSetId") or ObjectId(),
        heartbeat_interval_millis=int(_number(settings, "heartbeatIntervalMillis", defaults.heartbeat_interval_millis)),
        election_timeout_millis=int(_number(settings, "electionTimeoutMillis", defaults.election_timeout_millis)),
        chaining_allowed=bool(settings.get("chainingAllowed", True)),
    )
    validate_rules(config)
    return config


def validate_rules(config: RsConfig) -> None:
    """MongoDB's structural rules for one config."""
    if not 1 <= len(config.members) <= MAX_MEMBERS:
        raise _invalid(
            f"Replica set configuration contains {len(config.members)} members, but must have 1..{MAX_MEMBERS}"
        )
    _check_unique(config, "_id", [m.id for m in config.members])
    _check_unique(config, "host", [m.host for m in config.members])
    for member in config.members:
        _validate_member(member)
    if not 1 <= len(config.voters) <= MAX_VOTERS:
        raise _invalid(
            f"Replica set configuration contains {len(config.voters)} voting members, "
            f"but must be at least 1 and no more than {MAX_VOTERS}"
        )
    if not any(m.electable for m in config.members):
        raise _invalid("Replica set configuration must contain at least one non-arbiter member with priority > 0")
    if sum(m.arbiter_only for m in config.members) > 1:
        raise _invalid("Multiple arbiters are not allowed unless all nodes were started with allowMultipleArbiters")


def _check_unique(config: RsConfig, field: str, values: list[Any]) -> None:
    seen: dict[Any, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise _invalid(
                f"Found two member configurations with same {field} field, "
                f"members.{seen[value]}.{field} == members.{index}.{field} == {value}"
            )
        seen[value] = index


def _validate_member(m: MemberConfig) -> None:
    where = f"member {m.host} (_id {m.id})"
    if m.votes not in (0, 1):
        raise _invalid(f"{where}: votes field value is {m.votes} but must be 0 or 1")
    if not 0 <= m.priority <= 1000:
        raise _invalid(f"{where}: priority field value of {m.priority} is out of range 0..1000")
    if m.priority > 0 and m.votes == 0:
        raise _invalid(f"{where}: priority must be 0 when non-voting (votes:0)")
    if m.arbiter_only and (m.priority > 0 or m.votes == 0):
        raise _invalid(f"{where}: an arbiter must have priority 0 and votes 1")
    if (m.hidden or m.secondary_delay_secs) and m.priority > 0:
        raise _invalid(f"{where}: priority must be 0 when hidden or delayed")
