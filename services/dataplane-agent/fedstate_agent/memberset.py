"""Converge one instance's members in this cluster towards a ``DataPlaneSpec``, and report what runs.

Both modes use it: federation (the spec comes from ``fs-dataplane``) and single cluster (the agent
builds the spec from a ``MongoDB`` object). Steps, each a method:

1. ``apply``: Secrets, ConfigMap, Services, and the StatefulSets that are new or already on the spec's
   revision (a member on another revision waits for its turn in ``restart``); prune members gone
   from the spec;
2. ``observe``: pods and Services, then each reachable member's own replica-set view;
3. ``act``: initiate (initiator only, in a member's pod through ``pods/exec``) or reconfig (on the
   primary, with ``maxTimeMS``), step down the members the spec names, create ``root`` in the pod of a
   PRIMARY here that has no users yet (any cluster's agent: the election picks the cluster), users and
   featureCompatibilityVersion on the primary (initiator), restart the members the spec allows by
   updating their StatefulSet;
4. ``report``: a ``DataPlaneStatus``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubernetes.aio.client.exceptions import ApiException

from fedstate.models.base import Condition, utcnow
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus, MemberObservation, MemberSpec
from fedstate.models.replicaset import RsConfig
from fedstate.replset import HEALTHY

from .kubeobjects import KubeObjects, api_error_message
from .manifests import (
    MEMBER_LABEL,
    keep_volume_claims,
    member_statefulset,
    render_all,
    running_revision,
    statefulset_revision,
)
from .mongo import ROOT_USER, MemberState, MongoAdmin, NotAuthenticated, PodRef, PrimaryView, PyMongoError, primary_view
from .podshell import ExecFailed

log = logging.getLogger(__name__)

EventSink = Callable[[str, str, bool], Awaitable[None]]  # (reason, message, warning)
VOLUMES_KEPT = "VolumesKept"  # the event that names the claims members leaving this cluster left behind
APPLY_REFUSED = "ApplyRefused"  # the event that quotes the cluster's API refusing one of our objects
# The event that quotes a StatefulSet controller's FailedCreate: the pod of a member the cluster will not create
# (a ResourceQuota, a LimitRange, PodSecurity or a webhook said no), which only that controller's event tells.
POD_REFUSED = "PodRefused"
# What an API server answers the same object the same way until someone changes the object or the cluster (an
# invalid field, an admission webhook's or RBAC's no): told, and tried again later, not retried as a fault.
REFUSALS = frozenset({400, 403, 422})


class ObjectsRefused(Exception):
    """The cluster's API refused some of the instance's objects (``REFUSALS``); each is told once as an event."""

    def __init__(self, refusals: list[str]) -> None:
        super().__init__("; ".join(refusals))
        self.refusals = refusals


@dataclass
class Snapshot:
    """What one pass saw of the members here."""

    members: list[MemberObservation]
    states: dict[int, MemberState]
    statefulsets: dict[str, dict[str, Any]]
    primary_heartbeat_seconds: float | None = None
    # The primary in another cluster, as read this pass (or last, while nothing changed here): the set's view.
    elsewhere: MemberState | None = None
    # The primary's view was wanted and could not be read (no login there yet, or it did not answer).
    primary_unread: bool = False
    # Ordinal → why the cluster will not create that member's pod (its StatefulSet's FailedCreate), while it has none.
    pod_refusals: dict[int, str] = field(default_factory=dict)

    def address(self, ordinal: int) -> str | None:
        return next((m.address for m in self.members if m.ordinal == ordinal), None)

    def pod(self, namespace: str, ordinal: int) -> PodRef:
        """The pod of a member: its one-replica StatefulSet's only pod."""
        name = next(m.name for m in self.members if m.ordinal == ordinal)
        return PodRef(namespace, f"{name}-0")

    def role(self, ordinal: int) -> str:
        state = self.states.get(ordinal)
        return state.role if state else "UNKNOWN"

    @property
    def initiated(self) -> bool:
        return any(s.initiated for s in self.states.values())

    @property
    def heartbeat_seconds(self) -> float | None:
        """The set's heartbeat interval, as a member here or the primary told it."""
        here = next((s.heartbeat_seconds for s in self.states.values() if s.heartbeat_seconds), None)
        return here or self.primary_heartbeat_seconds

    @property
    def own_primary(self) -> int | None:
        """The ordinal of a member here that says it is PRIMARY."""
        return next((ordinal for ordinal, state in sorted(self.states.items()) if state.role == "PRIMARY"), None)

    @property
    def primary(self) -> str | None:
        """The primary's address: one of ours, the one our members' views agree on, or (before clusterAdmin can
        read a view) the one their hellos name."""
        if self.own_primary is not None:
            return self.address(self.own_primary)
        viewed = next((v.host for s in self.states.values() for v in s.view if v.state_str == "PRIMARY"), None)
        return viewed or next((s.hello_primary for s in self.states.values() if s.hello_primary), None)

    @property
    def config_version(self) -> int:
        """The newest config version a member here holds (0: none): they only learn it from the primary."""
        return max((s.config_version for s in self.states.values() if s.role != "REMOVED"), default=0)

    @property
    def viewer(self) -> MemberState | None:
        """Whose view of the set this pass reports: a PRIMARY here, else the primary elsewhere, else any member here
        that was read itself."""
        known = [s for s in self.states.values() if s.initiated]
        return (
            next((s for s in known if s.role == "PRIMARY"), None)
            or self.elsewhere
            or next((s for s in known if s.view), None)
        )

    @property
    def set_size(self) -> int:
        return max((len(s.view) for s in self.states.values()), default=0)


def expects_users(spec: DataPlaneSpec) -> bool:
    """Are the set's users known to exist: created (the federation says so), or brought by adopted volumes?"""
    return spec.users_created or spec.volume_uid not in ("", spec.instance.uid)


def own_primary_view(snapshot: Snapshot, read_since: datetime) -> PrimaryView | None:
    """How the primary sees the members, when it is one of ours and its replSetGetStatus was read since
    ``read_since`` (this pass): asking it again would return the same. None: ask the primary."""
    ordinal = snapshot.own_primary
    state = snapshot.states[ordinal] if ordinal is not None else None
    if state is None or state.view_read_at is None or state.view_read_at < read_since:
        return None
    return primary_view(state.view, state.heartbeat_seconds)


def needs_force(state: MemberState, wanted: RsConfig) -> bool:
    """Install ``wanted`` with force on this member? Only on one that is not PRIMARY (a PRIMARY's set works)
    and holds an older config than ``wanted``: REMOVED (adopted volumes) or a survivor of a lost majority."""
    held = state.config.version if state.config is not None else 0
    return state.role in {"REMOVED", "SECONDARY"} and held < wanted.version


@dataclass
class Acted:
    """What ``act`` did that the report carries: conditions, and the FCV the primary reported."""

    conditions: list[Condition] = field(default_factory=list)
    fcv: str | None = None
    # Users created in this pass: what the pass observed before is out of date (the members can be read as
    # clusterAdmin now), so the next look is at once, not a requeue later.
    created_users: bool = False


def _pod_observation(pod: dict[str, Any] | None) -> tuple[str, bool, str | None, str, str]:
    if pod is None:
        return "Absent", False, None, "", ""
    status = pod.get("status", {})
    conditions = {c["type"]: c for c in status.get("conditions", [])}
    ready = conditions.get("Ready", {}).get("status") == "True"
    message = conditions.get("PodScheduled", {}).get("message", "") if not ready else ""
    revision = running_revision(pod.get("metadata", {}).get("annotations") or {})
    return status.get("phase", "Pending"), ready, pod.get("spec", {}).get("nodeName"), message, revision


def incarnation(pod: dict[str, Any] | None, before: MemberObservation | None) -> str:
    """Which run of the member's mongod its pod holds: a new pod (a rolling restart, an eviction) has a new uid, a
    crashed container a higher restart count. While no pod is there, the last one known."""
    if pod is None:
        return before.incarnation if before is not None else ""
    restarts = sum(int(c.get("restartCount", 0)) for c in (pod.get("status") or {}).get("containerStatuses") or [])
    return f"{pod.get('metadata', {}).get('uid', '')}/{restarts}"


def follows_the_primary(previous: DataPlaneStatus | None, members: list[MemberObservation]) -> bool:
    """Does this cluster, without the set's PRIMARY, need the primary's view of its members? Only once one of them
    restarted (its incarnation changed since the last report), and from then on (the last report carries a
    ``seen_by_primary``; ``still_seen`` spares the reads while nothing changes): back from a restart, a member
    counts only once the primary sees it healthy, or a rolling update could take a second voter down while the
    primary still misses the first. A member on its first run (a set being created, a member added) counts as it
    says itself. Read for those too, the primary's view cost each other cluster of every set created a login
    there, a report and an orchestrator pass: the largest part of a fleet's creation spent on no decision."""
    if previous is None:
        return False
    before = {m.ordinal: m for m in previous.members}
    return any(
        (then := before.get(member.ordinal)) is not None
        and (bool(then.seen_by_primary) or then.incarnation not in ("", member.incarnation))
        for member in members
    )


def still_seen(previous: DataPlaneStatus | None, members: list[MemberObservation]) -> dict[int, str] | None:
    """How the primary saw our members in the last report, while that still holds: every member here has the
    address, readiness, role and revision (a restart changes it) it had then, and the primary saw each healthy. None: ask the primary again. So only a
    change here (a restart, an election) sends the agent to a primary in another cluster; a steady set
    keeps no client there."""
    if previous is None:
        return None
    before = {m.ordinal: m for m in previous.members}
    for member in members:
        then = before.get(member.ordinal)
        if then is None or _identity(then) != _identity(member):
            return None
        if then.seen_by_primary not in HEALTHY:
            return None
    return {m.ordinal: before[m.ordinal].seen_by_primary for m in members}


def _identity(member: MemberObservation) -> tuple[str | None, bool, str, str]:
    return member.address, member.ready, member.role, member.revision


def unchanged_in_kubernetes(previous: DataPlaneStatus | None, members: list[MemberObservation]) -> bool:
    """The members' pods and Services are as the last report found them."""

    def pods(observations: list[MemberObservation]) -> list[tuple[object, ...]]:
        return [(m.ordinal, m.address, m.pod_phase, m.ready, m.node, m.revision) for m in observations]

    return previous is not None and pods(previous.members) == pods(members)


def current_revision(spec: DataPlaneSpec, members: list[MemberObservation]) -> str:
    """What the members here run: the older revision while some still run it (as StatefulSet's currentRevision)."""
    running = {m.revision for m in members if m.revision}
    older = sorted(running - {spec.revision})
    return older[0] if older else (spec.revision if running else "")


class MemberSet:
    def __init__(self, kube: KubeObjects, mongo: MongoAdmin, cluster: str, vip: str) -> None:
        self.kube = kube
        self.mongo = mongo
        self.cluster = cluster
        self.vip = vip
        self._rendered: dict[tuple[str, str, str], tuple[DataPlaneSpec, list[dict[str, Any]]]] = {}
        # instance → the primary elsewhere and its state as last read: the view reported while nothing changes here
        self._elsewhere: dict[tuple[str, str, str], tuple[str, MemberState]] = {}
        # (instance, member): members this process deleted from a running set, each told of once
        self._gone: set[tuple[str, str, str, str]] = set()
        # (instance, kind, object) → the refusal last told of it: each refusal is told once, until it changes
        self._refused: dict[tuple[str, str, str, str, str], str] = {}

    def _render(self, spec: DataPlaneSpec) -> list[dict[str, Any]]:
        """``render_all(spec)``, once per spec object: the reconciler keeps one opened spec per revision, so a
        steady instance's passes render nothing (rendering was a sixth of a pass that wrote nothing)."""
        key = _instance_key(spec)
        held = self._rendered.get(key)
        if held is None or held[0] is not spec:
            held = self._rendered[key] = (spec, render_all(spec))
        return held[1]

    def applied_until(self, spec: DataPlaneSpec) -> float:
        """When the first of the spec's objects is due to be applied again all the same (``REAPPLY_SECONDS``)."""
        namespace = spec.instance.namespace
        return min(
            (self.kube.applied_until(o["kind"], namespace, o["metadata"]["name"]) for o in self._render(spec)),
            default=math.inf,
        )

    # 1. apply
    async def apply(self, spec: DataPlaneSpec, events: EventSink | None = None) -> None:
        """Write the instance's objects here; delete the members the spec no longer has (with ``events``, telling
        which of their data volumes stay)."""
        namespace, name = spec.instance.namespace, spec.instance.name
        await self.kube.ensure_namespace(namespace)
        existing = {s["metadata"]["name"]: s for s in await self.kube.statefulsets(namespace, name, spec.instance.kind)}
        rendered = self._render(spec)
        members: list[dict[str, Any]] = []
        for obj in (o for o in rendered if o["kind"] == "StatefulSet"):
            current = existing.get(obj["metadata"]["name"])
            if current is not None and statefulset_revision(current) != spec.revision:
                continue  # runs another revision: restarted only when the spec says it is its turn
            members.append(keep_volume_claims(obj, current) if current is not None else obj)
        # Two waves, each applied together (one API round trip each, not one per object): what the pods mount
        # and their Services first, then the StatefulSets.
        instance = _instance_key(spec)
        await self._apply_wave(instance, [o for o in rendered if o["kind"] != "StatefulSet"], events)
        await self._apply_wave(instance, members, events)
        # The informers lag our own deletes: a member deleted by the last pass may be deleted again, not told again.
        removed = [name for name in await self._prune(spec, existing) if (*instance, name) not in self._gone]
        self._gone.update((*instance, name) for name in removed)
        if removed and events is not None and spec.storage.retention_policy == "Retain":
            await self.tell_volumes_kept(namespace, name, events, removed)

    async def _apply_wave(
        self, instance: tuple[str, str, str], objects: list[dict[str, Any]], events: EventSink | None
    ) -> None:
        """Apply ``objects`` together; ``ObjectsRefused`` when the API refused any (each refusal told once), after
        every other write of the wave went through. Any other failure is raised as it is."""
        answers = await asyncio.gather(*(self.kube.apply(o) for o in objects), return_exceptions=True)
        refusals = []
        for obj, answer in zip(objects, answers, strict=True):
            key = (*instance, obj["kind"], obj["metadata"]["name"])
            if not isinstance(answer, BaseException):
                self._refused.pop(key, None)
                continue
            if not isinstance(answer, ApiException) or answer.status not in REFUSALS:
                raise answer
            why = f"the cluster's API refused {obj['kind']} {obj['metadata']['name']}: {api_error_message(answer)}"
            refusals.append(why)
            if self._refused.get(key) != why:
                self._refused[key] = why
                log.warning("object refused", extra={"object": "/".join(key), "error": why})
                if events is not None:
                    await events(APPLY_REFUSED, why, True)
        if refusals:
            raise ObjectsRefused(refusals)

    async def _prune(self, spec: DataPlaneSpec, existing: dict[str, dict[str, Any]]) -> list[str]:
        """Delete the members here that the spec no longer names; their names."""
        wanted = {m.name for m in spec.members}
        namespace = spec.instance.namespace
        services = await self.kube.services(namespace, spec.instance.name, spec.instance.kind)
        leaving = sorted((set(existing) | {s["metadata"]["name"] for s in services}) - wanted)
        for name in leaving:
            await self.kube.delete_member(namespace, name)
        return leaving

    async def tell_volumes_kept(
        self, namespace: str, name: str, events: EventSink, removed: list[str] | None = None
    ) -> None:
        """Name the claims that stay here under ``Retain`` once members left this cluster: ``removed`` (a scale-down,
        a move between clusters), or all of the instance's (it left the cluster: deleted, or failed over). A member
        keeps its claim as a StatefulSet keeps a scaled-down pod's, but its ordinal never comes back: the claim is
        nobody's from then on, for an operator to find and delete."""
        members = None if removed is None else {member.removeprefix(f"{name}-") for member in removed}
        kept = await self.kube.kept_claims(namespace, name, members)
        if kept:
            leaving = f"the members of {name}" if removed is None else ", ".join(removed)
            message = (
                f"{leaving} left this cluster; data volumes kept (storage.retentionPolicy Retain), "
                f"to delete once their data is not needed: {', '.join(kept)}"
            )
            await events(VOLUMES_KEPT, message, False)

    # 2. observe
    async def observe(self, spec: DataPlaneSpec, previous: DataPlaneStatus | None = None) -> Snapshot:
        namespace, name = spec.instance.namespace, spec.instance.name
        kind = spec.instance.kind
        services = {s["metadata"]["name"]: s for s in await self.kube.services(namespace, name, kind)}
        pods = {p["metadata"]["labels"].get(MEMBER_LABEL): p for p in await self.kube.pods(namespace, name)}
        statefulsets = {s["metadata"]["name"]: s for s in await self.kube.statefulsets(namespace, name, kind)}
        before = {m.ordinal: m for m in previous.members} if previous is not None else {}
        members = []
        pod_refusals: dict[int, str] = {}
        for member in spec.members:
            ports = services.get(member.name, {}).get("spec", {}).get("ports", [])
            node_port = next((p.get("nodePort") for p in ports if p.get("name") == "mongodb"), None)
            pod = pods.get(f"m{member.ordinal}")
            phase, ready, node, message, revision = _pod_observation(pod)
            if refused := self.kube.create_refused(statefulsets.get(member.name), pod is not None):
                pod_refusals[member.ordinal] = message = refused
            members.append(
                MemberObservation(
                    ordinal=member.ordinal,
                    name=member.name,
                    address=f"{self.vip}:{node_port}" if node_port else None,
                    pod_phase=phase,
                    ready=ready,
                    node=node,
                    message=message,
                    revision=revision,
                    incarnation=incarnation(pod, before.get(member.ordinal)),
                )
            )
        # All at once: a pass waits for its slowest member, not for the sum of their timeouts. When nothing
        # changed here in Kubernetes either, a member whose watch saw no change is not asked again.
        reachable = [seen for seen in members if seen.ready and seen.address]
        reuse = unchanged_in_kubernetes(previous, members)
        # Before the set's users exist, only its primary can be given them (and adopted volumes bring their own).
        users_expected = expects_users(spec)
        read_since = utcnow()
        states = await self._ask(spec, reachable, reuse, users_expected)
        snapshot = Snapshot(_with_states(members, states), states, statefulsets, pod_refusals=pod_refusals)
        by_primary = await self._seen_by_primary(spec, snapshot, previous, read_since)
        unread = [
            seen
            for seen in reachable
            if (state := states.get(seen.ordinal)) is not None and state.role == "SECONDARY" and not state.users_ready
        ]
        if users_expected and snapshot.primary_unread and snapshot.viewer is None and unread:
            # Known by their hellos, yet the primary could not be read for the set's view: each is read itself.
            states |= await self._ask(spec, unread, reuse, users_expected, itself=True)
            snapshot.members = _with_states(members, states)
        snapshot.members = [
            m.model_copy(update={"seen_by_primary": by_primary.get(m.ordinal, "")}) for m in snapshot.members
        ]
        return snapshot

    async def _ask(
        self,
        spec: DataPlaneSpec,
        reachable: list[MemberObservation],
        reuse: bool,
        users_expected: bool,
        itself: bool = False,
    ) -> dict[int, MemberState]:
        """The state of each member that answers, all asked at once: a pass waits for its slowest member, not for
        the sum of their timeouts."""
        answers = await asyncio.gather(
            *(
                self.mongo.observe(seen.address or "", spec.unsealed(), reuse, users_expected, itself)
                for seen in reachable
            ),
            return_exceptions=True,
        )
        states: dict[int, MemberState] = {}
        for seen, answer in zip(reachable, answers, strict=True):
            if isinstance(answer, PyMongoError):
                log.info("member not answering", extra={"member": seen.name, "error": type(answer).__name__})
            elif isinstance(answer, BaseException):
                raise answer
            else:
                states[seen.ordinal] = answer
        return states

    async def _seen_by_primary(
        self, spec: DataPlaneSpec, snapshot: Snapshot, previous: DataPlaneStatus | None, read_since: datetime
    ) -> dict[int, str]:
        """How the primary (here or elsewhere) sees our members: its view lags a heartbeat behind theirs. A primary
        elsewhere is read once for the set's view too, and not again while nothing changed here."""
        primary = snapshot.primary
        if primary is None or not snapshot.initiated:
            return {}
        if snapshot.own_primary is None and not spec.initiator and not follows_the_primary(previous, snapshot.members):
            return {}  # the initiator reads it all the same: it makes the set's users there, and says when they are
        key = _instance_key(spec)
        held = self._elsewhere.get(key) if snapshot.own_primary is None else None
        if held is not None and spec.initiator and held[1].config_version < snapshot.config_version:
            # A reconfig changes no role here, yet the members here learn the new config by heartbeat and their
            # hellos name it: the held config is old. The next reconfig is planned from the initiator's report, and
            # one that kept the old config kept the orchestrator asking for the reconfig already made (the chaos
            # test, seed 834775, never settled). Other clusters keep what they read: the newest config any cluster
            # reports is the set's.
            held = None
        if (by_primary := still_seen(previous, snapshot.members)) is not None and (
            snapshot.own_primary is not None or (held is not None and held[0] == primary)
        ):
            snapshot.elsewhere = held[1] if held is not None else None
            return by_primary
        if (view := own_primary_view(snapshot, read_since)) is None:
            try:
                state = await self.mongo.read_primary(primary, spec.unsealed(), expects_users(spec))
            except NotAuthenticated:
                snapshot.primary_unread = True
                return {}  # no clusterAdmin yet (the set's users are being created): nothing is late
            except PyMongoError as exc:
                log.info("primary not answering", extra={"primary": primary, "error": type(exc).__name__})
                snapshot.primary_unread = True
                return {}
            if snapshot.own_primary is None:
                self._elsewhere[key] = (primary, state)
                snapshot.elsewhere = state
            view = primary_view(state.view, state.heartbeat_seconds)
        snapshot.primary_heartbeat_seconds = view.heartbeat_seconds
        return view.states

    # 3. act
    async def act(self, spec: DataPlaneSpec, snap: Snapshot, events: EventSink) -> Acted:
        acted = Acted()
        conditions = acted.conditions
        await self._tell_pod_refusals(spec, snap, events)
        if spec.force_reconfig_on is not None:
            await self._force_reconfig(spec, snap, spec.force_reconfig_on, events, conditions)
        elif spec.initiator:
            await self._initiate_or_reconfig(spec, snap, events, conditions)
        await self._step_down(spec, snap, events, conditions)
        acted.created_users = await self._first_user(spec, snap, events, conditions)
        primary = snap.primary
        if spec.initiator and snap.initiated and primary is not None:
            done = await self._users(spec, primary, conditions)
            fcv = self._fcv(spec, primary, events, conditions)
            if done:  # told while the FCV is read: on a new set's way to Health, not one round trip after another
                acted.fcv, _ = await asyncio.gather(fcv, events("Users", "; ".join(done), False))
            else:
                acted.fcv = await fcv
            acted.created_users |= bool(done)
        await self._restart(spec, snap, events)
        return acted

    async def _initiate_or_reconfig(
        self, spec: DataPlaneSpec, snap: Snapshot, events: EventSink, conditions: list[Condition]
    ) -> None:
        config = spec.replica_set_config
        if config is None:
            return
        if snap.initiated:
            conditions.append(Condition(type="rsInit", status="True", reason="Initiated", message=config.id))
            primary = snap.primary
            if primary is None or snap.config_version >= config.version:
                return  # members here hold the config already: the primary has it, nothing to ask it
            try:
                if await self.mongo.reconfig(primary, spec.unsealed(), config):
                    await events("ReplicaSetReconfigured", f"replSetReconfig to version {config.version}", False)
            except PyMongoError as exc:
                conditions.append(Condition(type="rsReconfig", status="False", reason="Retrying", message=_why(exc)))
            return
        ordinal = next((o for o in sorted(snap.states) if snap.address(o)), None)
        if ordinal is None:
            return
        pod = snap.pod(spec.instance.namespace, ordinal)
        try:
            if await self.mongo.initiate(pod, snap.states[ordinal].version, config):
                await events(
                    "ReplicaSetInitiated", f"replSetInitiate with {len(config.members)} members (in pod {pod})", False
                )
            conditions.append(Condition(type="rsInit", status="True", reason="Initiated", message=config.id))
        except (PyMongoError, ExecFailed) as exc:
            conditions.append(Condition(type="rsInit", status="False", reason="InitiateFailed", message=_why(exc)))

    async def _force_reconfig(
        self, spec: DataPlaneSpec, snap: Snapshot, ordinal: int, events: EventSink, conditions: list[Condition]
    ) -> None:
        """Once: a member that installed a forced config holds a version far above the one asked for (mongod
        raises it by a large random amount), and a second force would undo the election that followed."""
        config, address, state = spec.replica_set_config, snap.address(ordinal), snap.states.get(ordinal)
        if config is None or address is None or state is None or not needs_force(state, config):
            return
        try:
            await self.mongo.force_reconfig(address, spec.unsealed(), config)
        except PyMongoError as exc:
            conditions.append(Condition(type="rsReconfig", status="False", reason="Retrying", message=_why(exc)))
            return
        if state.role == "REMOVED":
            message = (
                f"m{ordinal} ({address}) held a config naming other addresses; reconfigured with force "
                f"to the {len(config.members)} members' addresses"
            )
        else:
            message = (
                f"m{ordinal} ({address}) reconfigured with force to the {len(config.members)} surviving member(s): "
                "writes not replicated to them are lost"
            )
        await events("ReplicaSetForceReconfigured", message, True)

    async def _step_down(
        self, spec: DataPlaneSpec, snap: Snapshot, events: EventSink, conditions: list[Condition]
    ) -> None:
        for ordinal in spec.step_down:
            address = snap.address(ordinal)
            if snap.role(ordinal) != "PRIMARY" or address is None:
                continue
            try:
                await self.mongo.step_down(address, spec.unsealed())
                await events("SteppedDown", f"m{ordinal} ({address}) stepped down as PRIMARY", False)
            except PyMongoError as exc:
                conditions.append(Condition(type="stepDown", status="False", reason="Retrying", message=_why(exc)))

    async def _tell_pod_refusals(self, spec: DataPlaneSpec, snap: Snapshot, events: EventSink) -> None:
        """Each member pod the cluster will not create is told once as a Warning event quoting its StatefulSet's
        controller, until that refusal changes: the report's reason says it too, but Warning events are what
        platforms route to people."""
        instance = spec.instance
        for member in snap.members:
            key = (instance.namespace, instance.name, instance.kind, "Pod", f"{member.name}-0")
            refused = snap.pod_refusals.get(member.ordinal)
            if refused is None:
                self._refused.pop(key, None)
            elif self._refused.get(key) != refused:
                self._refused[key] = refused
                await events(POD_REFUSED, refused, True)

    async def _first_user(
        self, spec: DataPlaneSpec, snap: Snapshot, events: EventSink, conditions: list[Condition]
    ) -> bool:
        """root, from inside the pod of a PRIMARY here that clusterAdmin cannot log in to yet: only a loopback
        client gets mongod's localhost exception, and only this cluster's agent can exec into its pods.
        Whether it created root."""
        created = False
        for ordinal, state in sorted(snap.states.items()):
            address = snap.address(ordinal)
            if state.role != "PRIMARY" or state.users_ready or address is None:
                continue
            pod = snap.pod(spec.instance.namespace, ordinal)
            try:
                if await self.mongo.create_first_user(address, pod, state.version, spec.unsealed()):
                    await events("Users", f"created {ROOT_USER} in pod {pod} (localhost exception)", False)
                    created = True
            except (PyMongoError, ExecFailed) as exc:
                conditions.append(Condition(type="userRoot", status="False", reason="CreateFailed", message=_why(exc)))
        return created

    async def _users(self, spec: DataPlaneSpec, primary: str, conditions: list[Condition]) -> list[str]:
        """The set's other users, as root on its primary; what it created or changed."""
        try:
            done = await self.mongo.ensure_users(primary, spec.unsealed(), spec.export.enable)
        except PyMongoError as exc:
            conditions.append(Condition(type="userRoot", status="False", reason="CreateFailed", message=_why(exc)))
            return []
        users = ["userRoot", "userClusterAdmin"] + (["userClusterMonitor"] if spec.export.enable else [])
        conditions += [Condition(type=u, status="True", reason="Created", message=spec.repl_set_name) for u in users]
        return done

    async def _fcv(
        self, spec: DataPlaneSpec, primary: str, events: EventSink, conditions: list[Condition]
    ) -> str | None:
        """Raise featureCompatibilityVersion when the spec asks; the FCV the primary reports."""
        target = spec.feature_compatibility_version
        try:
            before = await self.mongo.feature_compatibility_version(primary, spec.unsealed())
            if target is None or before == target:
                return before
            await self.mongo.ensure_fcv(primary, spec.unsealed(), target)
        except PyMongoError as exc:
            conditions.append(Condition(type="fcv", status="False", reason="Retrying", message=_why(exc)))
            return None
        await events(
            "FeatureCompatibilityVersion", f"featureCompatibilityVersion raised from {before} to {target}", False
        )
        return target

    async def _restart(self, spec: DataPlaneSpec, snap: Snapshot, events: EventSink) -> None:
        members = {m.ordinal: m for m in spec.members}
        for ordinal in spec.restart:
            member: MemberSpec | None = members.get(ordinal)
            sts = snap.statefulsets.get(member.name) if member else None
            if member is None or sts is None or statefulset_revision(sts) == spec.revision:
                continue
            if snap.role(ordinal) == "PRIMARY" and snap.set_size > 1:
                continue  # the orchestrator steps it down first
            if await self.kube.apply(keep_volume_claims(member_statefulset(spec, member), sts)):
                await events("MemberRestarting", f"m{ordinal} restarts with revision {spec.revision}", False)

    # 4. report
    def report(self, spec: DataPlaneSpec, snap: Snapshot, acted: Acted) -> DataPlaneStatus:
        known = [s for s in snap.states.values() if s.initiated]
        elsewhere = [snap.elsewhere] if snap.elsewhere is not None else []
        configs = [s.config for s in known + elsewhere if s.config is not None]
        viewer = snap.viewer
        return DataPlaneStatus(
            cluster=self.cluster,
            generation=spec.generation,
            revision=spec.revision,
            current_revision=current_revision(spec, snap.members),
            feature_compatibility_version=acted.fcv,
            members=snap.members,
            initiated=bool(known),
            users_ready=any(s.users_ready for s in known + elsewhere),
            rs_config=max(configs, key=lambda c: c.version) if configs else None,
            replset=viewer.view if viewer else [],
            replset_seen_at=viewer.view_read_at if viewer else None,
            replset_term=viewer.term if viewer else None,
            conditions=acted.conditions,
            observed_at=utcnow(),
        )

    async def tear_down(self, namespace: str, name: str, kind: str, last_report: DataPlaneStatus | None) -> int:
        """Delete every object of the instance here (PVCs per retention policy); how many were still there.

        What the agent holds for the set's addresses goes too (clients, logins, watches), here and in other
        clusters alike: a freed NodePort goes to the next Service, and a client kept for it would try its old
        login on a stranger's member, whose log then shows a failed login."""
        services = await self.kube.services(namespace, name, kind)
        addresses = {
            f"{self.vip}:{p['nodePort']}" for s in services for p in s["spec"].get("ports", []) if p.get("nodePort")
        }
        await self.mongo.forget(addresses | (last_report.set_addresses() if last_report is not None else set()))
        remaining = await self.kube.delete_instance(namespace, name, kind)
        self._rendered.pop((namespace, name, kind), None)
        self._elsewhere.pop((namespace, name, kind), None)
        self._gone = {gone for gone in self._gone if gone[:3] != (namespace, name, kind)}
        self._refused = {key: why for key, why in self._refused.items() if key[:3] != (namespace, name, kind)}
        return remaining


def _instance_key(spec: DataPlaneSpec) -> tuple[str, str, str]:
    return spec.instance.namespace, spec.instance.name, spec.instance.kind


def _with_states(members: list[MemberObservation], states: dict[int, MemberState]) -> list[MemberObservation]:
    """The members with what each said of itself (role, version, last write), where it answered."""
    return [
        m.model_copy(
            update={
                "role": states[m.ordinal].role,
                "version": states[m.ordinal].version,
                "optime": states[m.ordinal].optime,
            }
        )
        if m.ordinal in states
        else m
        for m in members
    ]


def _why(exc: Exception) -> str:
    """An error for a condition: the driver's message (pymongo never puts passwords in it)."""
    return str(exc).split(", full error:")[0][:300]
