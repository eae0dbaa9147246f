"""Instance-level metrics: what no per-cluster exporter can tell, computed from what the federation holds.

One pure function of an instance's status, data-plane specs and agents' reports gives its samples: members
by state and cluster, where the PRIMARY is, voters per cluster against the majority, whether the set keeps
its majority if any one cluster fails, replication lag, elections, state and conditions. Labels are bounded:
tenant, namespace, multicloudmongodb (the name; Prometheus keeps ``instance`` for the
scrape target), cluster (and a state or condition drawn from a fixed set) — never a member's
ordinal, which grows as members are replaced, nor a uid.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

from fedstate.bus.names import InstanceKey
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus, ReplsetMemberView
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus
from fedstate.models.replicaset import RsConfig
from fedstate.replset import HEALTHY
from fedstate.scrape import Family, Sample

INSTANCE = ("tenant", "namespace", "multicloudmongodb")
PER_CLUSTER = (*INSTANCE, "cluster")

MEMBERS = Family(
    "fedstate_instance_members",
    "Members by the state their own cluster's agent reports (DOWN: not ready, or the agent is silent)",
    (*PER_CLUSTER, "state"),
)
PRIMARIES = Family("fedstate_instance_primaries", "Members that are PRIMARY (1 when healthy)", INSTANCE)
PRIMARY = Family("fedstate_instance_primary_info", "The cluster that holds the PRIMARY (1)", PER_CLUSTER)
VOTERS = Family("fedstate_instance_voters", "Voting members in the replica-set config, per cluster", PER_CLUSTER)
MAJORITY = Family("fedstate_instance_voters_majority", "Votes needed to elect a PRIMARY", INSTANCE)
SURVIVES = Family(
    "fedstate_instance_survives_cluster_loss",
    "1 when the voters that are up outside this cluster still make a majority, else 0",
    PER_CLUSTER,
)
LAG = Family(
    "fedstate_instance_replication_lag_seconds",
    "The largest lag behind the PRIMARY of this cluster's reachable SECONDARYs, from the PRIMARY's replSetGetStatus",
    PER_CLUSTER,
)
LAG_READ_AT = Family(
    "fedstate_instance_replication_status_timestamp_seconds",
    "When the replSetGetStatus that the lag and election series come from was read from the PRIMARY",
    INSTANCE,
)
ELECTIONS = Family(
    "fedstate_instance_elections", "Elections held since the set was initiated (its election term)", INSTANCE, "counter"
)
LAST_ELECTION = Family(
    "fedstate_instance_last_election_timestamp_seconds", "When the current PRIMARY was elected", INSTANCE
)
STATE = Family("fedstate_instance_state", "1 for the instance's state, 0 for the others", (*INSTANCE, "state"))
CONDITION = Family(
    "fedstate_instance_condition",
    "1 for each condition's status (true, false, unknown), 0 for the others",
    (*INSTANCE, "condition", "status"),
)
FAMILIES = (
    MEMBERS,
    PRIMARIES,
    PRIMARY,
    VOTERS,
    MAJORITY,
    SURVIVES,
    LAG,
    LAG_READ_AT,
    ELECTIONS,
    LAST_ELECTION,
    STATE,
    CONDITION,
)
CONDITION_STATUSES = ("True", "False", "Unknown")


@dataclass(frozen=True)
class InstanceReading:
    """What the federation holds about one instance; reports of silent agents already count their members DOWN."""

    key: InstanceKey
    status: MultiCloudMongoDBStatus | None
    dataplane: Mapping[str, DataPlaneSpec]
    observed: Mapping[str, DataPlaneStatus]
    silent: frozenset[str] = frozenset()

    @property
    def labels(self) -> dict[str, str]:
        return {"tenant": self.key.tenant, "namespace": self.key.namespace, "multicloudmongodb": self.key.name}

    @cached_property
    def cluster_of(self) -> dict[int, str]:
        """Member ordinal (its replica-set ``_id``) → the cluster that runs it."""
        return {m.ordinal: cluster for cluster, dp in self.dataplane.items() for m in dp.members}

    @cached_property
    def roles(self) -> dict[int, str]:
        """Member ordinal → its state as its own cluster reports it; UNKNOWN before any report."""
        where = self.cluster_of
        roles = dict.fromkeys(where, "UNKNOWN")
        for cluster, report in self.observed.items():
            for member in report.members:
                if where.get(member.ordinal) == cluster:
                    roles[member.ordinal] = member.role if member.ready else "DOWN"
        return roles


def instance_samples(reading: InstanceReading) -> Iterator[Sample]:
    yield from _members(reading)
    yield from _voters(reading)
    yield from _lag_and_elections(reading)
    yield from _state(reading)


def _members(reading: InstanceReading) -> Iterator[Sample]:
    where, roles = reading.cluster_of, reading.roles
    counts: dict[tuple[str, str], int] = {}
    for ordinal, role in roles.items():
        counts[where[ordinal], role] = counts.get((where[ordinal], role), 0) + 1
    for (cluster, role), count in sorted(counts.items()):
        yield MEMBERS.sample(count, **reading.labels, cluster=cluster, state=role)
    primaries = sorted({where[o] for o, role in roles.items() if role == "PRIMARY"})
    if reading.dataplane:
        yield PRIMARIES.sample(sum(role == "PRIMARY" for role in roles.values()), **reading.labels)
    for cluster in primaries:
        yield PRIMARY.sample(1, **reading.labels, cluster=cluster)


def _config(reading: InstanceReading) -> RsConfig | None:
    """The newest replica-set config any agent that still reports has read from its members."""
    configs = [r.rs_config for c, r in reading.observed.items() if r.rs_config is not None and c not in reading.silent]
    return max(configs, key=lambda config: config.version, default=None)


def _voters(reading: InstanceReading) -> Iterator[Sample]:
    config = _config(reading)
    if config is None:
        return
    where, roles = reading.cluster_of, reading.roles
    voters = [m.id for m in config.voters() if m.id in where]
    majority = len(config.voters()) // 2 + 1
    yield MAJORITY.sample(majority, **reading.labels)
    for cluster in sorted(reading.dataplane):
        yield VOTERS.sample(sum(where[v] == cluster for v in voters), **reading.labels, cluster=cluster)
        up_elsewhere = sum(where[v] != cluster and roles.get(v) in HEALTHY for v in voters)
        yield SURVIVES.sample(int(up_elsewhere >= majority), **reading.labels, cluster=cluster)


def _primary_view(reading: InstanceReading) -> tuple[DataPlaneStatus, ReplsetMemberView] | None:
    """The replSetGetStatus with a healthy PRIMARY in it that a reporting agent read: preferably the PRIMARY's
    own (read by its cluster's agent; a peer's view of it may lack its election), then the freshest."""
    where = reading.cluster_of
    views = [
        (report, row)
        for cluster, report in reading.observed.items()
        if cluster not in reading.silent
        for row in report.replset
        if row.state_str == "PRIMARY" and row.health
    ]
    return max(
        views,
        key=lambda view: (where.get(view[1].id) == view[0].cluster, view[0].replset_seen_at or view[0].observed_at),
        default=None,
    )


def _lag_and_elections(reading: InstanceReading) -> Iterator[Sample]:
    found = _primary_view(reading)
    if found is None:
        return
    report, primary = found
    where = reading.cluster_of
    lag: dict[str, int] = {}
    # A member the PRIMARY cannot reach reports no optime worth comparing (0, or its last one): no sample.
    for row in report.replset:
        if row.state_str == "SECONDARY" and row.health and row.id in where:
            behind = max(0, primary.optime_seconds - row.optime_seconds)
            lag[where[row.id]] = max(lag.get(where[row.id], 0), behind)
    for cluster, seconds in sorted(lag.items()):
        yield LAG.sample(seconds, **reading.labels, cluster=cluster)
    if report.replset_seen_at is not None:
        yield LAG_READ_AT.sample(report.replset_seen_at.timestamp(), **reading.labels)
    if report.replset_term is not None:
        yield ELECTIONS.sample(report.replset_term, **reading.labels)
    if primary.election_date is not None:
        yield LAST_ELECTION.sample(primary.election_date.timestamp(), **reading.labels)


def _state(reading: InstanceReading) -> Iterator[Sample]:
    status = reading.status
    if status is None:
        return
    for state in InstanceState:
        yield STATE.sample(int(status.state == state), **reading.labels, state=str(state))
    for condition in status.conditions:
        for value in CONDITION_STATUSES:
            yield CONDITION.sample(
                int(condition.status == value), **reading.labels, condition=condition.type, status=value.lower()
            )
