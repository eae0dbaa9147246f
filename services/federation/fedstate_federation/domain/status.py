"""Aggregate what the member clusters report into the MultiCloudMongoDB status (FedState's shape)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from fedstate.models.base import Condition, set_condition
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus
from fedstate.models.multicloud import ClusterResult, InstanceState, MultiCloudMongoDBStatus
from fedstate.models.placement import Placement
from fedstate.replset import HEALTHY
from fedstate.replset.members import ArbiterSeat, Assignment
from fedstate.replset.quorum import QuorumLoss


@dataclass(frozen=True)
class Observation:
    """Everything status is computed from, read in one pass."""

    generation: int
    replicaset: int
    deleting: bool
    config_ref: str | None
    config_ref_found: bool
    placement: Placement | None
    assignment: Assignment
    dataplane: Mapping[str, DataPlaneSpec]
    observed: Mapping[str, DataPlaneStatus]
    arbiter: ArbiterSeat | None = None
    # Progress conditions from the lifecycle plan (MembersConfigured, MembersUpdated).
    progress: list[Condition] = field(default_factory=list)
    # Replica-set config in sync and every member on its revision: required for Health.
    settled: bool = True
    # Member clusters whose agent stopped renewing its lease → why (their members count as DOWN).
    silent_agents: Mapping[str, str] = field(default_factory=dict)
    # The set lost its voting majority (``fedstate.replset.quorum``): who survived, with their optimes.
    quorum: QuorumLoss | None = None

    def members_of(self, cluster: str) -> list[int]:
        """The members that should run in ``cluster`` (data members and the arbiter)."""
        ordinals = list(self.assignment.get(cluster, []))
        if self.arbiter is not None and self.arbiter[0] == cluster:
            ordinals.append(self.arbiter[1])
        return sorted(ordinals)

    @property
    def clusters(self) -> list[str]:
        return sorted(set(self.assignment) | ({self.arbiter[0]} if self.arbiter else set()))

    @property
    def expected(self) -> int:
        return self.replicaset + (self.arbiter is not None)


def _roles(obs: Observation) -> dict[int, tuple[str, str]]:
    """ordinal → (address, role) as reported by the agent of the member's own cluster."""
    roles: dict[int, tuple[str, str]] = {}
    for cluster in obs.clusters:
        ordinals = obs.members_of(cluster)
        report = obs.observed.get(cluster)
        members = {m.ordinal: m for m in report.members} if report else {}
        for ordinal in ordinals:
            member = members.get(ordinal)
            if member is not None and member.address:
                roles[ordinal] = (member.address, member.role if member.ready else "DOWN")
    return roles


def _cluster_result(obs: Observation, cluster: str, roles: Mapping[int, tuple[str, str]]) -> ClusterResult:
    wanted = obs.dataplane.get(cluster)
    report = obs.observed.get(cluster)
    ordinals = obs.members_of(cluster)
    healthy = sum(1 for o in ordinals if o in roles and roles[o][1] in HEALTHY)
    applied = wanted is not None and report is not None and report.revision == wanted.revision
    return ClusterResult(
        applied=applied,
        cluster=cluster,
        connect_addr_with_role={roles[o][0]: roles[o][1] for o in ordinals if o in roles},
        current_revision=(report.current_revision or report.revision) if report else "",
        replicaset_spec=len(ordinals),
        replicaset_status=healthy,
        state="Running" if applied and healthy == len(ordinals) else "Creating",
    )


def _member_troubles(obs: Observation, roles: Mapping[int, tuple[str, str]]) -> list[str]:
    """Each member that is not PRIMARY/SECONDARY/ARBITER, with its cluster and, if known, why: its agent is silent,
    or its pod says why it waits (the scheduler's ``0/3 nodes are available: 3 Insufficient cpu.``)."""
    troubles = []
    for cluster in obs.clusters:
        report = obs.observed.get(cluster)
        said = {m.ordinal: m.message for m in report.members if m.message} if report else {}
        silent = obs.silent_agents.get(cluster)
        for ordinal in obs.members_of(cluster):
            role = roles[ordinal][1] if ordinal in roles else "not started"
            if role not in HEALTHY:
                why = silent or said.get(ordinal)
                troubles.append(f"member {ordinal} in {cluster} is {role}" + (f" ({why})" if why else ""))
    return troubles


def _leaving(obs: Observation) -> list[str]:
    """Members an agent still runs that the instance no longer has (being removed after a scale-down or a
    move). Not Health until they are gone: a client could still find them. A silent agent's members are
    not counted: its cluster cannot be asked, and failover must not wait for it."""
    return [
        f"member {m.ordinal} in {cluster} is being removed"
        for cluster, report in sorted(obs.observed.items())
        if cluster not in obs.silent_agents
        for m in report.members
        if m.ordinal not in obs.members_of(cluster)
    ]


def _state(
    obs: Observation, roles: Mapping[int, tuple[str, str]], previous: InstanceState | None
) -> tuple[InstanceState, str]:
    """The instance's state and, in a few words, why: every state change is told with its reason."""
    if obs.deleting:
        return InstanceState.DELETING, "deletion requested: the members are being removed"
    placement = obs.placement
    if not obs.dataplane and placement is not None and not placement.schedulable:
        return InstanceState.UN_HEALTH, f"cannot be scheduled: {placement.summary}"
    states = [role for _, role in roles.values()]
    primaries = states.count("PRIMARY")
    total = sum(len(obs.members_of(c)) for c in obs.clusters)
    troubles = _member_troubles(obs, roles) + _leaving(obs)
    if primaries == 1 and total == obs.expected and not troubles and obs.settled:
        return InstanceState.HEALTH, "every member is up and one is PRIMARY"
    detail = "; ".join(troubles) or "; ".join(c.message for c in obs.progress if c.status != "True")
    # A new instance is Creating until it is first Health: members starting and the first election
    # are not faults, and must not be reported (or alerted on) as such.
    if previous in (None, InstanceState.CREATING) or not obs.dataplane:
        up = sum(1 for role in states if role in HEALTHY)
        return InstanceState.CREATING, f"{up}/{obs.expected} members up" + (f": {detail}" if detail else "")
    if primaries == 1:
        return InstanceState.SUB_HEALTH, detail or "the set is changing"
    if obs.quorum is not None:
        return InstanceState.UN_HEALTH, f"quorum lost: {obs.quorum.describe()}"
    if primaries == 0:
        return InstanceState.UN_HEALTH, "no PRIMARY" + (f": {detail}" if detail else "")
    return InstanceState.UN_HEALTH, f"{primaries} members claim to be PRIMARY" + (f"; {detail}" if detail else "")


def _agents_condition(obs: Observation) -> Condition:
    silent = [obs.silent_agents[c] for c in obs.clusters if c in obs.silent_agents]
    if silent:
        return Condition(
            type="AgentsReporting",
            status="False",
            reason="AgentSilent",
            message="; ".join(silent) + ": its members count as DOWN",
        )
    return Condition(
        type="AgentsReporting",
        status="True",
        reason="LeasesRenewed",
        message="the agent of every member cluster renews its lease",
    )


QUORUM_LOST = "QuorumLost"


def quorum_options(name: str, loss: QuorumLoss) -> str:
    """What an operator can do about a lost majority, for the condition and the event."""
    freshest = loss.freshest
    if freshest is None:
        return "no data member survived: wait for the lost members' clusters to come back"
    return (
        "wait for the lost members' clusters to come back (nothing is lost), or force recovery with "
        f"`fedstate recover mcm {name} --force`: m{freshest.ordinal}, the freshest survivor, becomes the set "
        "with the other survivors and new members replace the lost ones; writes not replicated to the "
        "survivors are lost"
    )


def _quorum_condition(obs: Observation, name: str) -> Condition:
    if obs.quorum is not None:
        return Condition(
            type=QUORUM_LOST,
            status="True",
            reason="MajorityUnreachable",
            message=f"{obs.quorum.describe()}. Options: {quorum_options(name, obs.quorum)}",
        )
    return Condition(
        type=QUORUM_LOST, status="False", reason="MajorityReachable", message="a majority of the voters answers"
    )


def _scheduled_condition(obs: Observation) -> Condition:
    placement = obs.placement
    if placement is None or placement.spec_generation != obs.generation:
        return Condition(
            type="ServerScheduledResult",
            status="Unknown",
            reason="Scheduling",
            message="waiting for the scheduler to place this generation",
        )
    if not placement.schedulable:
        return Condition(
            type="ServerScheduledResult", status="False", reason="Unschedulable", message=placement.summary
        )
    split = [{"cluster": a.cluster, "replicaset": a.replicas} for a in placement.clusters if a.replicas]
    return Condition(
        type="ServerScheduledResult",
        status="True",
        reason="GetSchedulerSuccess",
        message="Get Scheduler Result: " + json.dumps({"ClusterWithReplicaset": split}),
    )


def _check_condition(obs: Observation, results: list[ClusterResult]) -> Condition:
    applied = sum(r.replicaset_spec for r in results if r.applied)
    ok = applied == obs.expected and all(r.applied for r in results)
    arbiter = " + arbiter" if obs.arbiter is not None else ""
    return Condition(
        type="ServerCheck",
        status=str(ok),
        reason="CheckSuccess" if ok else "Applying",
        message=f"members applied in member clusters: {applied}, SpecReplicaset: {obs.replicaset}{arbiter}",
    )


def _config_condition(obs: Observation) -> Condition | None:
    if obs.config_ref is None:
        return None
    if obs.config_ref_found:
        return Condition(
            type="ConfigRefFound",
            status="True",
            reason="ConfigMapFound",
            message=f"ConfigMap {obs.config_ref} is distributed to the member clusters",
        )
    return Condition(
        type="ConfigRefFound",
        status="False",
        reason="ConfigMapNotFound",
        message=f"config.configRef names ConfigMap {obs.config_ref!r}, which nobody supplied: "
        "apply it (kind ConfigMap) in the same namespace; members start with the default config",
    )


READY_MESSAGE = "Service Dispatch Successful And Ready For External Service"


def _changing(obs: Observation) -> bool:
    """Is a change someone asked for being applied: a member count not reached yet, a config step or a restart
    left, a generation some cluster has not applied?"""
    total = sum(len(obs.members_of(c)) for c in obs.clusters)
    return not obs.settled or total != obs.expected or any(c.status != "True" for c in obs.progress)


# The ServerReady reason of a SubHealth set while a change is applied (a scale, an update, a move): no fault.
CHANGING = "Changing"


def aggregate(
    obs: Observation, previous: MultiCloudMongoDBStatus | None, now: datetime, name: str = ""
) -> MultiCloudMongoDBStatus:
    roles = _roles(obs)
    clusters = [a.cluster for a in obs.placement.clusters] if obs.placement else sorted(obs.assignment)
    results = [_cluster_result(obs, c, roles) for c in clusters if c in obs.clusters]
    state, why = _state(obs, roles, previous.state if previous else None)
    health = state == InstanceState.HEALTH
    changing = state == InstanceState.SUB_HEALTH and _changing(obs)
    ready = Condition(
        type="ServerReady",
        status=str(health),
        reason="ServerReady" if health else CHANGING if changing else str(state),
        message=READY_MESSAGE if health else f"replica set is {state}: {why}",
    )
    conditions = list(previous.conditions) if previous else []
    for condition in (
        _scheduled_condition(obs),
        _check_condition(obs, results),
        ready,
        _config_condition(obs),
        _agents_condition(obs) if obs.clusters else None,
        _quorum_condition(obs, name) if obs.quorum is not None or _has(previous, QUORUM_LOST) else None,
        *obs.progress,
    ):
        if condition is not None:
            conditions = set_condition(conditions, condition, now)
    ordered = sorted(roles)
    return MultiCloudMongoDBStatus(
        conditions=sorted(conditions, key=lambda c: c.type),
        external_addr=",".join(roles[o][0] for o in ordered),
        result=results,
        state=state,
        observed_generation=obs.generation,
    )


def is_milestone(previous: MultiCloudMongoDBStatus | None, status: MultiCloudMongoDBStatus) -> bool:
    """Is ``status`` news that clients wait for, to be written at once: the first status, a new state or
    observedGeneration, a condition that appeared, went or turned (what ``kubectl wait`` and ``fedstate wait``
    watch)? Anything else — a member's role or address, a message — is progress, which may wait a moment to be
    written together with the progress after it."""
    if previous is None or previous.state != status.state:
        return True
    if previous.observed_generation != status.observed_generation:
        return True
    return {(c.type, c.status) for c in previous.conditions} != {(c.type, c.status) for c in status.conditions}


def _has(status: MultiCloudMongoDBStatus | None, condition: str) -> bool:
    return status is not None and status.condition(condition) is not None


def is_fault(status: MultiCloudMongoDBStatus) -> bool:
    """Is the state a fault, told as a Warning: UnHealth, or SubHealth but while a change is applied (a scale or an
    update someone asked for is no fault; a member lost while the set was settled is)."""
    if status.state == InstanceState.UN_HEALTH:
        return True
    ready = status.condition("ServerReady")
    return status.state == InstanceState.SUB_HEALTH and (ready is None or ready.reason != CHANGING)


def state_reason(status: MultiCloudMongoDBStatus) -> str:
    """Why the instance is in its state, in a few words (the ServerReady condition carries it)."""
    ready = status.condition("ServerReady")
    if ready is None or ready.status == "True":
        return "every member is up and one is PRIMARY"
    return ready.message.removeprefix(f"replica set is {status.state}: ")
