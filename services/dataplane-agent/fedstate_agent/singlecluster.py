"""Single-cluster mode, the pure part: a ``MongoDB`` object → the ``DataPlaneSpec`` this agent converges,
and its report → the ``MongoDB`` status in the seed's shape.

The agent plays the orchestrator for one cluster: the same ``fedstate.replset.plan`` decides members,
replica-set config steps and rolling restarts, over a placement of ``members`` in this cluster alone.
Kubernetes holds the state a restarted agent needs: the members are the StatefulSets that exist, the
ordinals ever used show in the data volumes, the credentials are in the ``<name>-auth`` Secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime

from fedstate.models.base import Condition, set_condition
from fedstate.models.dataplane import (
    Credentials,
    DataPlaneSpec,
    DataPlaneStatus,
    InstanceRef,
    MemberSpec,
    random_secret,
    revision_of,
)
from fedstate.models.mongodb import CurrentInfo, DataPlaneState, MongoDB, MongoDBStatus, ReplsetMember
from fedstate.models.multicloud import ConfigEntry, ExportSpec, RegistryCredentials, StorageSpec
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate.replset import HEALTHY, Lifecycle, LifecycleInput, assign_members, member_name, plan
from fedstate.replset.members import high_water

SINGLE_CLUSTER_MODE = "SingleCluster"
MAX_VOTERS = 7
_ORDINAL = re.compile(r"-m(\d+)(?:-0)?$")
Generate = Callable[[int], str]


def credentials(
    root_password: str | None, existing: Mapping[str, str] | None, generate: Generate = random_secret
) -> Credentials:
    """What the ``<name>-auth`` Secret already holds is kept; what it lacks is generated. A new
    ``rootPassword`` keeps the old ones (newest first) so the agent can rotate root."""
    held = dict(existing or {})
    old_root = held.get("root-password")
    root = root_password or old_root or generate(24)
    earlier = [held["previous-root-password"]] if held.get("previous-root-password") else []
    earlier += json.loads(held.get("older-root-passwords") or "[]")
    fresh = Credentials(
        key_file=held.get("keyfile") or generate(64),
        root_password=root,
        cluster_admin_password=held.get("cluster-admin-password") or generate(24),
        cluster_monitor_password=held.get("cluster-monitor-password") or generate(24),
    )
    return fresh.with_earlier_root_passwords(([old_root] if old_root else []) + earlier)


def odd_voters(members: int) -> int:
    """The largest odd number of voters the members allow, at most 7 (as the scheduler plans)."""
    voters = min(members, MAX_VOTERS)
    return voters if voters % 2 else voters - 1


def ordinal_of(name: str) -> int | None:
    """``rs-m3`` (a StatefulSet) or ``data-ab12cd34-rs-m3-0`` (a claim) → 3."""
    match = _ORDINAL.search(name)
    return int(match.group(1)) if match else None


def _options_and_env(entries: list[ConfigEntry]) -> tuple[list[ConfigEntry], list[ConfigEntry]]:
    """``net.maxIncomingConnections`` is a mongod option; ``LOG_LEVEL`` an environment variable."""
    options = [e for e in entries if "." in e.name]
    env = [e for e in entries if "." not in e.name]
    return options, env


def base_spec(
    obj: MongoDB,
    tenant: str,
    cluster: str,
    existing: list[int],
    credentials: Credentials,
    config_content: dict[str, str] | None,
) -> DataPlaneSpec:
    """The data-plane spec for the members that exist now; ``plan`` adds, retires and restarts from here."""
    spec = obj.spec
    pull = spec.image_pull_secret
    options, env = _options_and_env(spec.config)
    dataplane = DataPlaneSpec(
        instance=InstanceRef(
            tenant=tenant,
            namespace=obj.metadata.namespace,
            name=obj.metadata.name,
            uid=obj.metadata.uid or "",
            kind="MongoDB",
        ),
        generation=obj.metadata.generation,
        repl_set_name=obj.metadata.name,
        members=[MemberSpec(ordinal=o, name=member_name(obj.metadata.name, o)) for o in sorted(existing)],
        image=spec.image,
        image_pull_policy=spec.image_pull_policy,
        image_pull_secret=f"{obj.metadata.name}-pull" if isinstance(pull, RegistryCredentials) else pull,
        registry_credentials=pull if isinstance(pull, RegistryCredentials) else None,
        resources=spec.resources,
        export=ExportSpec(enable=spec.metrics_exporter_spec.enable, resource=spec.metrics_exporter_spec.resources),
        storage=StorageSpec(
            storage_class=spec.persistence.storage_class_name or None, storage_size=spec.persistence.storage
        ),
        node_selector=spec.pod_spec.node_selector,
        tolerations=spec.pod_spec.tolerations,
        affinity=spec.pod_spec.affinity or None,
        security_context=spec.pod_spec.security_context,
        topology_spread_constraints=spec.pod_spec.topology_spread_constraints,
        config_ref=spec.custom_config_ref,
        config_set=options,
        env=env,
        config_content=config_content,
        credentials=credentials,
        initiator=True,
    )
    return dataplane.model_copy(update={"revision": revision_of(dataplane)})


def lifecycle(obj: MongoDB, cluster: str, base: DataPlaneSpec, report: DataPlaneStatus, used: set[int]) -> Lifecycle:
    """One pass of decisions for a replica set of ``spec.members`` members, all in this cluster."""
    members = obj.spec.members
    placement = Placement(
        spec_generation=obj.metadata.generation,
        mode=SINGLE_CLUSTER_MODE,
        clusters=[ClusterAssignment(cluster=cluster, replicas=members, voters=odd_voters(members))],
    )
    current = [m.ordinal for m in base.members]
    floor = high_water(used, current)
    # Keep every existing member's ordinal; retiring ones are found by plan() from the config.
    assignment = assign_members({cluster: current}, {cluster: members}, floor)
    return plan(
        LifecycleInput(
            name=obj.metadata.name,
            image=obj.spec.image,
            revision=base.revision,
            assignment=assignment,
            arbiter=None,
            placement=placement,
            dataplane={cluster: base.model_copy(update={"next_ordinal": floor})},
            observed={cluster: report},
        )
    )


def planned_spec(base: DataPlaneSpec, decided: Lifecycle) -> DataPlaneSpec:
    """The base spec with what the plan decided for this cluster."""
    if not decided.clusters:
        return base
    cluster = decided.clusters[0]
    return base.model_copy(
        update={
            "members": list(cluster.members),
            "replica_set_config": cluster.rs_config,
            "restart": list(cluster.restart),
            "step_down": list(cluster.step_down),
            "feature_compatibility_version": cluster.fcv,
            "next_ordinal": cluster.next_ordinal,
        }
    )


_USER_CONDITIONS = {"rsInit", "userRoot", "userClusterAdmin", "userClusterMonitor"}


def status_of(
    report: DataPlaneStatus,
    decided: Lifecycle | None,
    previous: MongoDBStatus | None,
    now: datetime,
    error: str | None = None,
    config_ref: tuple[str, bool] | None = None,
) -> MongoDBStatus:
    """The seed's MongoDB status: conditions rsInit, userRoot, userClusterAdmin (+ progress), currentInfo,
    currentRevision, replset[], state."""
    conditions = list(previous.conditions) if previous else []
    for condition in report.conditions:
        if condition.type in _USER_CONDITIONS or condition.status != "True":
            conditions = set_condition(conditions, condition, now)
    for condition in decided.conditions if decided else []:
        conditions = set_condition(conditions, condition, now)
    state, ready = _state(report, decided, error, config_ref)
    conditions = set_condition(conditions, ready, now)
    if config_ref is not None:
        conditions = set_condition(conditions, _config_ref_condition(*config_ref), now)
    replset = [
        ReplsetMember.model_validate(
            {
                "_id": v.id,
                "name": v.host,
                "health": v.health,
                "state": v.state,
                "stateStr": v.state_str,
                "syncSourceHost": v.sync_source_host,
            }
        )
        for v in report.replset
    ]
    return MongoDBStatus(
        conditions=sorted(conditions, key=lambda c: c.type),
        current_info=CurrentInfo(members=sum(1 for m in report.members if m.ready)),
        current_revision=report.current_revision,
        replset=replset,
        state=state,
    )


def _config_ref_condition(name: str, found: bool) -> Condition:
    if found:
        return Condition(type="ConfigRefFound", status="True", reason="ConfigMapFound", message=f"ConfigMap {name}")
    return Condition(
        type="ConfigRefFound",
        status="False",
        reason="ConfigMapNotFound",
        message=f"customConfigRef names ConfigMap {name!r}, which does not exist in this namespace: "
        "create it; members run with the default config until then",
    )


def _state(
    report: DataPlaneStatus, decided: Lifecycle | None, error: str | None, config_ref: tuple[str, bool] | None
) -> tuple[DataPlaneState, Condition]:
    """The state and the ``Ready`` condition that says why (its message goes into the state's event)."""
    if error is not None:
        return DataPlaneState.ERROR, Condition(type="Ready", status="False", reason="Refused", message=error)
    if config_ref is not None and not config_ref[1]:
        return DataPlaneState.ERROR, Condition(
            type="Ready", status="False", reason="ConfigMapNotFound", message=_config_ref_condition(*config_ref).message
        )
    roles = [m.role for m in report.members]
    healthy = all(r in HEALTHY for r in roles)
    if decided is not None and decided.settled and report.initiated and roles.count("PRIMARY") == 1 and healthy:
        return DataPlaneState.RUNNING, Condition(
            type="Ready", status="True", reason="Running", message="every member is up and one is PRIMARY"
        )
    waiting = [
        f"{m.name} is {m.role or 'not started'}" + (f" ({m.message})" if m.message else "")
        for m in report.members
        if m.role not in HEALTHY
    ]
    pending = [c.message for c in (decided.conditions if decided else []) if c.status != "True"]
    why = "; ".join(waiting + pending) or ("replica set not initiated yet" if not report.initiated else "converging")
    return DataPlaneState.RECONCILING, Condition(type="Ready", status="False", reason="Reconciling", message=why)
