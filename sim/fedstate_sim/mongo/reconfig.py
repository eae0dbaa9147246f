"""Rules that relate a proposed replica-set config to the member and to the installed config.

``require_member``: the receiving member must be in the config (NodeNotFound).
``check_reconfig``: same set name and replicaSetId, a higher version unless
forced, a host keeps its ``_id`` and arbiter role, and a non-forced reconfig
adds, removes or re-votes at most one voting member
(NewReplicaSetConfigurationIncompatible, with mongod's wording).
"""

from __future__ import annotations

from fedstate_sim.mongo.errors import Code, CommandError
from fedstate_sim.mongo.rsconfig import MemberConfig, RsConfig


def require_member(config: RsConfig, me: str) -> MemberConfig:
    """The entry for ``me``, or mongod's NodeNotFound error."""
    member = config.member(me)
    if member is None:
        raise CommandError(
            Code.NodeNotFound,
            f"No host described in new configuration with {{version: {config.version}, term: {config.term}}} "
            f"for replica set {config.name} maps to this node ({me})",
        )
    return member


def _incompatible(message: str) -> CommandError:
    return CommandError(Code.NewReplicaSetConfigurationIncompatible, message)


def check_reconfig(old: RsConfig, new: RsConfig, *, force: bool) -> None:
    """Rules that relate a proposed config to the installed one (NewReplicaSetConfigurationIncompatible)."""
    if new.name != old.name:
        raise _incompatible(
            f"New and old configurations differ in replica set name; old was {old.name}, and new is {new.name}"
        )
    if new.replica_set_id != old.replica_set_id:
        raise _incompatible("New and old configurations differ in replica set ID")
    if not force and new.version <= old.version:
        raise _incompatible(f"New config version {new.version} must be greater than the current version {old.version}")
    for member in new.members:
        _check_same_member(old.member(member.host), member)
    if not force and voter_changes(old, new) > 1:
        raise _incompatible("Non force replica set reconfig can only add or remove at most 1 voting member.")


def _check_same_member(previous: MemberConfig | None, member: MemberConfig) -> None:
    """A host keeps its _id and its arbiter role across reconfigs."""
    if previous is None:
        return
    if previous.id != member.id:
        raise _incompatible(
            f"New and old configurations both have members with host of {member.host} but in the "
            f"new config the _id field is {member.id} and in the old config it is {previous.id}"
        )
    if previous.arbiter_only != member.arbiter_only:
        raise _incompatible(
            f"New and old configurations differ in the setting of the arbiterOnly field for member {member.host}"
        )


def voter_changes(old: RsConfig, new: RsConfig) -> int:
    """How many voting members a reconfig adds or removes (by member _id)."""
    return len({m.id for m in old.voters} ^ {m.id for m in new.voters})
