"""The orchestrator's reconcile loop for MultiCloudMongoDB objects.

Reads spec, placement and every cluster's data-plane spec and report; decides with the
pure functions of ``domain``; writes DataPlaneSpecs and status with compare-and-set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from opentelemetry import trace

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.events import emit
from fedstate.bus.names import (
    InstanceKey,
    Kind,
    LeaseHolder,
    cluster_filter,
    key_matches,
    parse_dataplane_key,
    parse_placement_key,
    parse_spec_key,
    spec_filter,
)
from fedstate.bus.objects import StatusRecord, StoredObject
from fedstate.bus.store import Entry, Outcome
from fedstate.liveness import Liveness
from fedstate.models.base import utcnow
from fedstate.models.dataplane import Credentials, DataPlaneSpec, DataPlaneStatus, RetainedVolumes
from fedstate.models.multicloud import MultiCloudMongoDB, MultiCloudMongoDBStatus
from fedstate.models.placement import Placement
from fedstate.reconcile import DONE, Controller, Result, resync_after
from fedstate.replset.lifecycle import ClusterPlan, Lifecycle, LifecycleInput, assign_seats, plan
from fedstate.replset.members import ArbiterSeat, Assignment
from fedstate.scrape import Sample, registered
from fedstate.sealing import SealingError, secret_fields

from .domain import metrics
from .domain.dataplane import credentials_for, render, rotate
from .domain.status import QUORUM_LOST, Observation, aggregate, is_fault, is_milestone, state_reason
from .settings import FederationSettings
from .vault import Vault

log = logging.getLogger(__name__)
COMPONENT = "federation-orchestrator"
INSTANCE_METRICS = registered(metrics.FAMILIES)
SINGLE_CLUSTER_STATUSES = spec_filter("*", Kind.MONGODB)
DELETE_POLL_SECONDS = 1.0
WARNING_ACTIONS = frozenset({"ForcedRecovery"})  # it loses the writes the survivors do not hold


@dataclass
class World:
    """Everything one reconcile pass reads, for one instance."""

    key: InstanceKey
    obj: StoredObject
    mcm: MultiCloudMongoDB
    placement: Placement | None
    dataplane: dict[str, DataPlaneSpec]
    observed: dict[str, DataPlaneStatus]
    config_content: dict[str, str] | None
    config_revision: int | None  # of the ConfigMap ``config_content`` was read from
    # The volumes an earlier instance of this name left, while this one is adopting them (before its
    # first data-plane spec is written; after, ``volume_uid`` on those specs remembers whose they are).
    adopting: RetainedVolumes | None = None
    # Clusters whose agent stopped renewing its lease → why.
    silent_agents: dict[str, str] = field(default_factory=dict)
    # The credentials the instance's data holds, opened from the federation's sealed copy (None: a new
    # instance, which gets ``generated``, random, drawn once per pass so every cluster gets the same).
    held: Credentials | None = None
    generated: Credentials = field(default_factory=Credentials.generate)
    spec_revision: int = 0
    # Every cluster's data-plane spec entry, (key, revision): what ``held`` and ``volume_uid`` are read from.
    dataplane_revisions: tuple[tuple[str, int], ...] = ()

    @property
    def base_credentials(self) -> Credentials:
        return self.held or self.generated

    @property
    def volume_uid(self) -> str:
        """Whose volumes the members mount: fixed by the first data-plane spec written."""
        written = next((dp.volume_uid for dp in self.dataplane.values() if dp.volume_uid), None)
        if written:
            return written
        return self.adopting.volume_uid if self.adopting else self.mcm.metadata.uid or ""


@dataclass(frozen=True)
class PassInputs:
    """What one pass over an instance reads, as the caches hold it: the revision of every entry, and each of its
    clusters' agent (silent or not, its sealing key). The decisions are pure functions of these, so a pass over
    the same inputs as one that wrote nothing would write nothing again."""

    config_key: str | None  # the ConfigMap its spec names, if any: read by the pass that recorded these
    revisions: tuple[int | None, ...]  # spec, placement, status, ConfigMap
    entries: frozenset[tuple[str, str, int]]  # (bucket, key, revision) of its data-plane specs and reports
    agents: tuple[tuple[str, str | None, str | None], ...]  # (cluster, why silent, sealing public key)


@dataclass(frozen=True)
class StatusUpdate:
    """The status a pass computed, next to the one stored (``stored``: a record exists, of whatever kind)."""

    previous: MultiCloudMongoDBStatus | None
    status: MultiCloudMongoDBStatus
    stored: bool

    @property
    def changes_state(self) -> bool:
        return self.previous is not None and self.previous.state != self.status.state


def unheard(report: DataPlaneStatus) -> DataPlaneStatus:
    """A report whose agent stopped renewing its lease (the cluster failed, or the agent did) says nothing
    about its members any more: they count as down, so no decision relies on a role they may have lost."""
    down = {"ready": False, "role": "DOWN", "seen_by_primary": "", "message": "no heartbeat from the agent"}
    return report.model_copy(update={"members": [m.model_copy(update=down) for m in report.members]})


def clusters_by_outcome(outcomes: dict[str, Outcome]) -> dict[Outcome, list[str]]:
    """The clusters whose data-plane spec a pass created, updated or deleted, by outcome, in order; unchanged left out."""
    grouped: dict[Outcome, list[str]] = {}
    for cluster, outcome in sorted(outcomes.items()):
        if outcome != Outcome.UNCHANGED:
            grouped.setdefault(outcome, []).append(cluster)
    return grouped


def _spec_key_of(instance: InstanceKey) -> str:
    return InstanceKey(instance.tenant, instance.namespace, Kind.MULTICLOUD_MONGODB, instance.name).spec_key


def _instance_of_placement(placement_key: str) -> str:
    return _spec_key_of(parse_placement_key(placement_key))


def _instance_of(dataplane_key: str) -> str:
    """The spec key of the instance a data-plane (or observed) key belongs to."""
    return _spec_key_of(parse_dataplane_key(dataplane_key)[1])


class Orchestrator:
    def __init__(self, bus: Bus, settings: FederationSettings, vault: Vault) -> None:
        self.bus = bus
        self.settings = settings
        self.vault = vault
        self.controller = Controller("orchestrator", self.reconcile)
        self._background: set[asyncio.Task[None]] = set()
        self.agents = Liveness(
            bus.leases,
            LeaseHolder.AGENT,
            timedelta(seconds=settings.failure_threshold_seconds),
            self._agent_went_silent_or_came_back,
            on_new_public_key=self._agent_has_a_new_key,
        )
        # Every spec and placement in memory, read by each pass without a request (an enqueue comes from the same
        # watch that brought the value, so the cache is never older than what caused the pass).
        self._spec_changed = self._enqueue_as(self._spec_instance)
        self.specs = KVCache(bus.spec, on_change=self._spec_changed)
        self.placements = KVCache(bus.placements, on_change=self._enqueue_as(_instance_of_placement))
        # Every data-plane spec and report in memory, by instance, from one watch each (no list per pass).
        self.dataplane = KVCache(bus.dataplane, on_change=self._enqueue_as(_instance_of), index_by=_instance_of)
        self.observed = KVCache(bus.observed, on_change=self._enqueue_as(_instance_of), index_by=_instance_of)
        # Every status: those this service writes, compared with a pass's own without a read per pass, and
        # single-cluster ones, whose removal by their agent finalizes a deleted MongoDB.
        self.statuses = KVCache(bus.status, on_change=self._status_changed)
        self._caches_synced = False
        # instance → the inputs of its last pass, when that pass wrote nothing: a safety resync that finds them
        # unchanged returns at once. At 1,000 instances such passes (opening sealed boxes, rendering, planning,
        # about 4 ms each) were most of the federation's idle CPU.
        self._quiet: dict[str, PassInputs] = {}
        # instance → cluster → (what a cluster's spec was made of, the sealed spec made): a pass whose inputs for a
        # cluster did not change reuses it. Rendering and sealing each cluster's spec again, every pass, was a fifth
        # of the federation's CPU while a fleet was created.
        self._made: dict[str, dict[str, tuple[tuple[object, ...], DataPlaneSpec]]] = {}
        self._revisions: dict[str, tuple[tuple[int, int | None], str]] = {}  # instance → (its inputs, revision)
        # status key → when this process last wrote it (monotonic): progress is written at most every
        # ``status_progress_seconds`` (``is_milestone``).
        self._status_written: dict[str, float] = {}
        # instance → (the revision of its spec, the object opened) and (its clusters' spec revisions, the credentials
        # they hold): opening sealed boxes and validating the object again on every pass was a twentieth of the
        # federation's CPU while a set was created
        self._opened_specs: dict[str, tuple[int, MultiCloudMongoDB]] = {}
        self._held_credentials: dict[str, tuple[tuple[tuple[str, int], ...], Credentials | None]] = {}
        # instance → (the revisions its metrics came from, its samples): a scrape works out only what changed
        self._instance_samples: dict[str, tuple[Hashable, list[Sample]]] = {}

    async def run(self) -> None:
        # Every cache is whole before the first pass: a pass on a half-loaded cache would report
        # members missing that are not. Then every object is looked at once.
        caches = (self.specs, self.placements, self.dataplane, self.observed, self.statuses)
        await asyncio.gather(self.agents.start(), *(cache.start() for cache in caches))
        self._caches_synced = True
        for entry in self.specs:
            self._spec_changed(entry.key, entry)
        await self._reseal_retained()
        INSTANCE_METRICS.serve(self.instance_samples, self.metrics_version)
        try:
            await self.agents.run()
        finally:
            INSTANCE_METRICS.serve(None)
            for cache in caches:
                await cache.stop()

    def _spec_instance(self, key: str) -> str | None:
        """An object's own key; a federated ConfigMap is looked at through every instance of its namespace."""
        instance = parse_spec_key(key)
        if instance.kind == Kind.CONFIGMAP:
            self._enqueue_namespace(instance)
            return None
        return key

    def _enqueue_as(self, instance_of: Callable[[str], str | None]) -> Callable[[str, Entry[Any] | None], None]:
        """A cache's ``on_change``: once every cache is whole, enqueue the instance the changed key belongs to."""

        def changed(key: str, entry: Entry[Any] | None) -> None:
            if not self._caches_synced:
                return
            try:
                instance = instance_of(key)
            except ValueError:
                log.warning("ignoring a key of unexpected shape", extra={"key": key})
                return
            if instance is not None:
                self.controller.enqueue(instance, entry.headers if entry else None)

        return changed

    async def _reseal_retained(self) -> None:
        """After a rotation of the federation's key, the credentials kept for adopters are sealed again too."""
        for entry in await self.bus.retained.entries():  # an unreadable one is kept as a dead letter, and skipped
            resealed = self.vault.resealed_retained(entry.value)
            if resealed is not None:
                await self.bus.retained.update(entry.key, resealed, entry.revision)

    def metrics_version(self) -> Hashable:
        """What the instance metrics come from: statuses, data-plane specs and reports, and which agents are alive.
        While it is unchanged, so are they (a steady fleet's scrapes reuse one rendering)."""
        return (self.statuses.changes, self.dataplane.changes, self.observed.changes, self.agents.standing())

    def instance_samples(self) -> Iterator[Sample]:
        """Every MultiCloudMongoDB's metrics, from the caches alone (a scrape reads nothing from the bus). An
        instance whose inputs are the revisions they were at the last scrape gives the samples it gave then."""
        statuses = {e.key: e for e in self.statuses if e.value.multicloud is not None}
        alive = dict(self.agents.standing())
        samples: dict[str, tuple[Hashable, list[Sample]]] = {}
        for spec_key in sorted(statuses.keys() | self.dataplane.index_values()):
            status = statuses.get(spec_key)
            dataplane, observed = self.dataplane.indexed(spec_key), self.observed.indexed(spec_key)
            entries: list[Entry[Any]] = [*dataplane, *observed]
            silent = frozenset(c for c in {parse_dataplane_key(e.key)[0] for e in entries} if not alive.get(c, False))
            inputs = (status and status.revision, *((e.key, e.revision) for e in entries), silent)
            known = self._instance_samples.get(spec_key)
            if known is None or known[0] != inputs:
                reading = self._reading(spec_key, status, dataplane, observed, silent)
                known = inputs, list(metrics.instance_samples(reading))
            samples[spec_key] = known
            yield from known[1]
        self._instance_samples = samples

    def _reading(
        self,
        spec_key: str,
        status: Entry[StatusRecord] | None,
        dataplane: list[Entry[DataPlaneSpec]],
        observed: list[Entry[DataPlaneStatus]],
        silent: frozenset[str],
    ) -> metrics.InstanceReading:
        specs = {parse_dataplane_key(e.key)[0]: e.value for e in dataplane}
        reports = {parse_dataplane_key(e.key)[0]: e.value for e in observed}
        reports = {cluster: unheard(r) if cluster in silent else r for cluster, r in reports.items()}
        multicloud = status.value.multicloud if status is not None else None
        return metrics.InstanceReading(parse_spec_key(spec_key), multicloud, specs, reports, silent)

    def _status_changed(self, key: str, entry: Entry[StatusRecord] | None) -> None:
        if key_matches(SINGLE_CLUSTER_STATUSES, key):
            self.controller.enqueue(key, entry.headers if entry else None)

    def _agent_went_silent_or_came_back(self, cluster: str, alive: bool) -> None:
        log.log(logging.INFO if alive else logging.WARNING, "agent lease", extra={"cluster": cluster, "alive": alive})
        self._enqueue_cluster(cluster)

    def _agent_has_a_new_key(self, cluster: str) -> None:
        """Seal every credential of the cluster's instances again, to its new key."""
        log.info("agent published a new sealing key", extra={"cluster": cluster})
        self._enqueue_cluster(cluster)

    def _enqueue_cluster(self, cluster: str) -> None:
        prefix = cluster_filter(cluster).removesuffix(">")
        for key in {_instance_of(e.key) for e in self.dataplane if e.key.startswith(prefix)}:
            self.controller.enqueue(key)
        # Its single-cluster objects' secrets are sealed again too (a pass looks at each).
        for entry in self.specs:
            if key_matches(SINGLE_CLUSTER_STATUSES, entry.key):
                self.controller.enqueue(entry.key)

    def _enqueue_namespace(self, changed: InstanceKey) -> None:
        """A federated ConfigMap changed: look again at every instance of its namespace."""
        pattern = f"{changed.tenant}.{changed.namespace}.{Kind.MULTICLOUD_MONGODB}.*"
        for entry in self.specs:
            if key_matches(pattern, entry.key):
                self.controller.enqueue(entry.key)

    async def reconcile(self, key: str) -> Result:
        instance = parse_spec_key(key)
        if instance.kind == Kind.MONGODB:
            return await self._single_cluster(instance)
        quiet = self._quiet.pop(key, None)
        if quiet is not None and quiet == self._inputs(instance, quiet.config_key):
            self._quiet[key] = quiet
            return resync_after(self.settings.resync_seconds, from_memory=True)
        # Read before the world: anything that changes while the pass runs (``_load`` may wait on the bus) makes
        # its inputs differ from these at the end, so the pass is not remembered as quiet.
        before = self._inputs(instance, None)
        try:
            world = await self._load(instance)
        except SealingError as exc:
            # Never new credentials for data that holds others: the members would lock every agent out.
            log.error("cannot open the instance's sealed credentials", extra={"instance": key, "error": str(exc)})
            await self._tell(instance, "SealedCredentials", f"cannot open the sealed credentials: {exc}", warning=True)
            return resync_after(self.settings.resync_seconds)
        if world is None:
            return DONE
        if world.obj.deleting:
            return await self._delete(world)
        config_key = self._config_key(instance, world.mcm)
        read = replace(before, config_key=config_key, revisions=(*before.revisions[:3], world.config_revision))
        lifecycle = self._decide(world)
        update = self._status_update(world, lifecycle)
        if update.changes_state:
            # A state someone waits for (``fedstate wait --for state=Health``, the custom resource's printer
            # column) first: the clusters' specs of such a pass tell their agents what just happened (the users
            # are created), and written alongside, their acknowledgments and their agents' passes held the
            # status's event a quiet create's last 5 ms.
            progress_due = await self._write_status(world, update)
            sealed_to_all = await self._apply_dataplane(world, lifecycle)
        else:
            # Together: the status is read from what the pass loaded, not from these writes.
            sealed_to_all, progress_due = await asyncio.gather(
                self._apply_dataplane(world, lifecycle), self._write_status(world, update)
            )
        if progress_due is not None:  # progress held back: written by the pass then, unless one before writes it
            return Result(requeue_after=progress_due)
        if not sealed_to_all:  # a cluster's agent has not published its key yet: look again soon
            return resync_after(self.settings.heartbeat_seconds)
        # A write (ours, through the caches, or anyone's meanwhile) changes a revision; adopting reads a bucket
        # no cache holds.
        if world.adopting is None and world.dataplane and self._inputs(instance, config_key) == read:
            self._quiet[key] = read
        return resync_after(self.settings.resync_seconds)

    def _inputs(self, key: InstanceKey, config_key: str | None) -> PassInputs:
        def revision(cache: KVCache[Any], entry_key: str | None) -> int | None:
            entry = cache.get(entry_key) if entry_key is not None else None
            return entry.revision if entry is not None else None

        entries = frozenset(
            (bucket, e.key, e.revision)
            for bucket, cache in (("dataplane", self.dataplane), ("observed", self.observed))
            for e in cache.indexed(key.spec_key)
        )
        clusters = sorted({parse_dataplane_key(entry_key)[0] for _, entry_key, _ in entries})
        return PassInputs(
            config_key,
            (
                revision(self.specs, key.spec_key),
                revision(self.placements, key.placement_key),
                revision(self.statuses, key.status_key),
                revision(self.specs, config_key),
            ),
            entries,
            tuple((c, self.agents.silence(c), self.agents.public_key(c)) for c in clusters),
        )

    # 1. load
    async def _load(self, key: InstanceKey) -> World | None:
        entry = self.specs.get(key.spec_key)
        if entry is None:
            self._forget(key)
            await self.bus.status.delete(key.status_key)
            return None
        placement = self.placements.get(key.placement_key)
        written = self.dataplane.indexed(key.spec_key)
        dataplane = {parse_dataplane_key(e.key)[0]: e.value for e in written}
        observed = {parse_dataplane_key(e.key)[0]: e.value for e in self.observed.indexed(key.spec_key)}
        silent = {c: why for c in {*dataplane, *observed} if (why := self.agents.silence(c)) is not None}
        observed = {cluster: unheard(r) if cluster in silent else r for cluster, r in observed.items()}
        resealed = self.vault.resealed_object(entry.value)
        if resealed is not None:  # the federation's key was rotated: the user's secrets follow (a conflict retries)
            await self.bus.spec.update(key.spec_key, resealed, entry.revision)
        mcm = self._opened(key, entry)
        adopting = None if entry.value.deleting else await self._adopting(key, mcm, dataplane)
        revisions = tuple(sorted((e.key, e.revision) for e in written))
        return World(
            key,
            entry.value,
            mcm,
            placement.value if placement else None,
            dataplane,
            observed,
            *await self._config_content(key, mcm),
            adopting,
            silent,
            self._held(key, revisions, dataplane, adopting),
            spec_revision=entry.revision,
            dataplane_revisions=revisions,
        )

    def _opened(self, key: InstanceKey, entry: Entry[StoredObject]) -> MultiCloudMongoDB:
        """The user's object, its secrets opened and validated once per revision of it, not on every pass."""
        known = self._opened_specs.get(key.spec_key)
        if known is None or known[0] != entry.revision:
            opened = self.vault.opened_object(entry.value).as_multicloud()
            known = self._opened_specs[key.spec_key] = (entry.revision, opened)
        return known[1]

    def _held(
        self,
        key: InstanceKey,
        revisions: tuple[tuple[str, int], ...],
        dataplane: dict[str, DataPlaneSpec],
        adopting: RetainedVolumes | None,
    ) -> Credentials | None:
        """``Vault.held_by_instance``, opened once per revision of the clusters' specs (adopted volumes: each pass)."""
        if adopting is not None:
            return self.vault.held_by_instance(list(dataplane.values()), adopting)
        known = self._held_credentials.get(key.spec_key)
        if known is None or known[0] != revisions:
            held = self.vault.held_by_instance(list(dataplane.values()), None)
            known = self._held_credentials[key.spec_key] = (revisions, held)
        return known[1]

    def _forget(self, key: InstanceKey) -> None:
        self._made.pop(key.spec_key, None)
        self._revisions.pop(key.spec_key, None)
        self._status_written.pop(key.status_key, None)
        self._opened_specs.pop(key.spec_key, None)
        self._held_credentials.pop(key.spec_key, None)

    async def _adopting(
        self, key: InstanceKey, mcm: MultiCloudMongoDB, dataplane: dict[str, DataPlaneSpec]
    ) -> RetainedVolumes | None:
        """The retained volumes this instance asked to adopt, until its members exist."""
        if not mcm.spec.storage.adopt_retained_volumes or dataplane:
            return None
        entry = await self.bus.retained.get(key.retained_key)
        if entry is None or entry.value.instance.uid == mcm.metadata.uid:
            return None
        return entry.value

    @staticmethod
    def _config_key(key: InstanceKey, mcm: MultiCloudMongoDB) -> str | None:
        ref = mcm.spec.config.config_ref
        return InstanceKey(key.tenant, key.namespace, Kind.CONFIGMAP, ref).spec_key if ref else None

    async def _config_content(
        self, key: InstanceKey, mcm: MultiCloudMongoDB
    ) -> tuple[dict[str, str] | None, int | None]:
        """The content of the ConfigMap the spec names, and its revision."""
        config_key = self._config_key(key, mcm)
        entry = self.specs.get(config_key) if config_key is not None else None
        return (entry.value.data, entry.revision) if entry else (None, None)

    # 2. decide
    def _placement_usable(self, world: World) -> bool:
        placement = world.placement
        return (
            placement is not None
            and placement.schedulable
            and placement.spec_generation == world.obj.metadata.generation
        )

    def _assignment(self, world: World) -> tuple[Assignment, ArbiterSeat | None]:
        """Data members per cluster and the arbiter's seat; unchanged while the placement is not usable."""
        placement = world.placement if self._placement_usable(world) else None
        return assign_seats(world.dataplane, world.observed, placement, world.adopting)

    def _recovery_asked(self, world: World) -> bool:
        """A forced recovery was asked for the quorum loss the status shows now (not an earlier one)."""
        request = world.obj.recovery
        entry = self.statuses.get(world.key.status_key)
        status = entry.value.multicloud if entry else None
        lost = status.condition(QUORUM_LOST) if status else None
        return (
            request is not None
            and lost is not None
            and lost.status == "True"
            and lost.last_transition_time == request.quorum_lost_since
        )

    def _revision(self, world: World) -> str:
        """The members' revision: of the spec and the ConfigMap it names only (``revision_of``)."""
        inputs = (world.spec_revision, world.config_revision)
        known = self._revisions.get(world.key.spec_key)
        if known is None or known[0] != inputs:
            credentials = credentials_for(world.mcm, world.base_credentials)
            empty = ClusterPlan("", [], False, None)
            known = self._revisions[world.key.spec_key] = (
                inputs,
                render(world.key, world.mcm, empty, credentials, world.config_content).revision,
            )
        return known[1]

    def _decide(self, world: World) -> Lifecycle:
        assignment, arbiter = self._assignment(world)
        return plan(
            LifecycleInput(
                name=world.key.name,
                image=world.mcm.spec.image_setting.image,
                revision=self._revision(world),
                assignment=assignment,
                arbiter=arbiter,
                placement=world.placement,
                dataplane=world.dataplane,
                observed=world.observed,
                recover=self._recovery_asked(world),
                generation=world.obj.metadata.generation,
            )
        )

    # 3. apply the difference
    async def _apply_dataplane(self, world: World, lifecycle: Lifecycle) -> bool:
        """Write each cluster's spec, its credentials sealed to the cluster's key; False when a cluster has
        published no key yet (its spec waits)."""
        fresh = credentials_for(world.mcm, world.base_credentials)
        wanted: dict[str, DataPlaneSpec] = {}
        sealed_to_all = True
        made = self._made.setdefault(world.key.spec_key, {})
        for cluster_plan in lifecycle.clusters:
            cluster = cluster_plan.cluster
            cluster_key = self.agents.public_key(cluster)
            if cluster_key is None:
                sealed_to_all = False
                continue
            previous = world.dataplane.get(cluster)
            # Everything the spec is made of: the user's spec and ConfigMap, every cluster's spec as written (the
            # credentials held, whose volumes), this cluster's plan and both sealing keys.
            inputs = (
                world.spec_revision,
                world.config_revision,
                world.dataplane_revisions,
                cluster_plan,
                cluster_key,
                self.vault.ring.public_key,
            )
            known = made.get(cluster)
            if previous is not None and known is not None and known[0] == inputs:
                wanted[cluster] = known[1]
                continue
            credentials = rotate(self.vault.held(previous) if previous else world.held, fresh)
            desired = render(world.key, world.mcm, cluster_plan, credentials, world.config_content, world.volume_uid)
            wanted[cluster] = self.vault.sealed_spec(desired, cluster, cluster_key, previous)
            if previous is not None:  # a first spec's credentials are drawn at random each pass until written
                made[cluster] = (inputs, wanted[cluster])
        for cluster in set(made) - set(wanted):
            del made[cluster]
        gone = sorted(set(world.dataplane) - {c.cluster for c in lifecycle.clusters})
        # Each cluster's spec is a key of its own: written together, the last cluster's agent starts as soon as
        # the first's instead of one bus round trip later per cluster.
        outcomes = await asyncio.gather(
            *(self.dataplane.write_through(world.key.dataplane_key(c), spec) for c, spec in wanted.items()),
            *(self.bus.dataplane.delete(world.key.dataplane_key(c)) for c in gone),
        )
        await self._report(world.key, dict(zip([*wanted, *gone], outcomes, strict=True)))
        changed = any(outcome != Outcome.UNCHANGED for outcome in outcomes[: len(wanted)])
        if world.adopting is not None and lifecycle.clusters:
            await self._adopted(world, world.adopting)
        if changed:
            for action in lifecycle.actions:
                reason, _, message = action.partition(": ")
                await self._tell(world.key, reason, message, warning=reason in WARNING_ACTIONS)
        return sealed_to_all

    async def _tell(self, key: InstanceKey, reason: str, message: str, *, warning: bool = False) -> None:
        await emit(self.bus.js, key, reason=reason, component=COMPONENT, message=message, warning=warning)

    async def _adopted(self, world: World, retained: RetainedVolumes) -> None:
        """The members now mount the volumes: the record is spent (a later instance must not adopt them too)."""
        await self.bus.retained.delete(world.key.retained_key)
        adopted = sum(len(ordinals) for ordinals in retained.members.values())
        await self._tell(
            world.key,
            "VolumesAdopted",
            f"{adopted} data volume(s) of the deleted instance {retained.instance.uid} are mounted again",
        )

    async def _retain(self, world: World) -> None:
        """Deleting with Retain: record what stays in the clusters, for a later instance to adopt."""
        if world.mcm.spec.storage.retention_policy != "Retain":
            return
        members = {
            cluster: sorted(m.ordinal for m in dp.members if not m.arbiter and not m.retiring)
            for cluster, dp in world.dataplane.items()
        }
        members = {cluster: ordinals for cluster, ordinals in members.items() if ordinals}
        some = next(iter(world.dataplane.values()), None)
        if some is None or not members:
            return
        record = RetainedVolumes(
            instance=some.instance,
            volume_uid=world.volume_uid,
            repl_set_name=some.repl_set_name,
            members=members,
            next_ordinal=max(
                [dp.next_ordinal for dp in world.dataplane.values()]
                + [m.ordinal + 1 for dp in world.dataplane.values() for m in dp.members]
            ),
            vault=self.vault.retained_vault(some, world.volume_uid),
            deleted_at=utcnow(),
        )
        await self.bus.retained.put(world.key.retained_key, record)

    async def _report(self, key: InstanceKey, outcomes: dict[str, Outcome]) -> None:
        """One event (and log line) per kind of write a pass made, naming its clusters: one per cluster was most of
        the events of a fleet's creation (11 per instance at 1,000), each a publish the bus stores."""
        for outcome, clusters in clusters_by_outcome(outcomes).items():
            log.info(
                "dataplane specs written", extra={"instance": str(key), "clusters": clusters, "outcome": str(outcome)}
            )
            named = ", ".join(clusters)
            await self._tell(
                key,
                f"DataPlane{outcome.value.title()}",
                f"data-plane spec for cluster{'s' if len(clusters) > 1 else ''} {named} has been {outcome}",
            )

    # 4. status, rebuilt from what was observed on every pass
    def _status_update(self, world: World, lifecycle: Lifecycle | None) -> StatusUpdate:
        """The status this pass computes from what it loaded, next to the one stored."""
        previous_entry = self.statuses.get(world.key.status_key)
        previous = previous_entry.value.multicloud if previous_entry else None
        assignment, arbiter = self._assignment(world) if lifecycle is not None else ({}, None)
        observation = Observation(
            generation=world.obj.metadata.generation,
            replicaset=world.mcm.spec.replicaset,
            deleting=world.obj.deleting,
            config_ref=world.mcm.spec.config.config_ref,
            config_ref_found=world.config_content is not None,
            placement=world.placement,
            assignment=assignment,
            dataplane=world.dataplane,
            observed=world.observed,
            arbiter=arbiter,
            progress=lifecycle.conditions if lifecycle else [],
            settled=lifecycle.settled if lifecycle else False,
            silent_agents=world.silent_agents,
            quorum=lifecycle.quorum if lifecycle else None,
        )
        status = aggregate(observation, previous, utcnow(), world.key.name)
        return StatusUpdate(previous, status, stored=previous_entry is not None)

    async def _write_status(self, world: World, update: StatusUpdate) -> float | None:
        """Write the status when it changed: a milestone at once, progress at most every
        ``status_progress_seconds``. Returns in how many seconds held-back progress is due (None: none held).

        Each write is a message to every watcher (the gateway's watches, the CRD bridge, dashboards): a new set's
        members starting, one report after another, made seven writes of its status in its first 100 ms, each
        waking all of them while the control plane was busiest."""
        previous, status = update.previous, update.status
        if update.stored and previous == status:
            return None
        written = self._status_written.get(world.key.status_key)
        if written is not None and not is_milestone(previous, status):
            due = written + self.settings.status_progress_seconds - time.monotonic()
            if due > 0:
                return due
        # Told before it is written: a crash in between repeats the news, it never loses it.
        await self._tell_agents_change(world.key, previous, status)
        await self._tell_quorum_change(world.key, previous, status)
        if previous is None or previous.state != status.state:
            # On the pass's span: which pass of a change's trace brought the instance to Health (or not).
            trace.get_current_span().set_attribute("fedstate.state", str(status.state))
            await self._tell(
                world.key,
                f"State{status.state}",
                f"replica set {world.key.name} is {status.state}: {state_reason(status)}",
                warning=is_fault(status),
            )
        await self.statuses.write_through(
            world.key.status_key, StatusRecord(kind="MultiCloudMongoDB", multicloud=status)
        )
        self._status_written[world.key.status_key] = time.monotonic()
        return None

    async def _tell_agents_change(
        self, key: InstanceKey, previous: MultiCloudMongoDBStatus | None, status: MultiCloudMongoDBStatus
    ) -> None:
        """An agent going silent (or coming back) is news: say which, once, when the condition flips."""
        before = previous.condition("AgentsReporting") if previous else None
        now = status.condition("AgentsReporting")
        if now is None or (before.status if before else "True") == now.status:
            return
        if now.status == "False":
            await self._tell(key, "AgentSilent", now.message, warning=True)
        else:
            await self._tell(key, "AgentReporting", now.message)

    async def _tell_quorum_change(
        self, key: InstanceKey, previous: MultiCloudMongoDBStatus | None, status: MultiCloudMongoDBStatus
    ) -> None:
        """Losing the majority (and getting it back) is news: say so once, with the options, when it flips."""
        before = previous.condition(QUORUM_LOST) if previous else None
        now = status.condition(QUORUM_LOST)
        if now is None or (before.status if before else "False") == now.status:
            return
        if now.status == "True":
            await self._tell(key, QUORUM_LOST, now.message, warning=True)
        else:
            await self._tell(key, "QuorumRegained", now.message)

    # A single-cluster MongoDB is its target cluster's agent's. The federation keeps the user's secrets in it
    # sealed to its target cluster's current key; once that agent tore a deleted object's members down and
    # removed the status, the object leaves fs-spec.
    async def _single_cluster(self, key: InstanceKey) -> Result:
        entry = self.specs.get(key.spec_key)
        if entry is None:
            return DONE
        if entry.value.deleting:
            return await self._finalize_single_cluster(key, entry)
        stored = self.vault.resealed_object(entry.value) or entry.value
        cluster_key = self.agents.public_key(entry.value.target_cluster or "")
        stored = self.vault.with_cluster_box(stored, cluster_key, entry.value.sealed)
        if stored != entry.value:  # a conflict retries
            await self.bus.spec.update(key.spec_key, stored, entry.revision)
        if cluster_key is None and secret_fields(stored):  # its agent published no key yet: look again soon
            return resync_after(self.settings.heartbeat_seconds)
        return DONE

    async def _finalize_single_cluster(self, key: InstanceKey, entry: Entry[StoredObject]) -> Result:
        if await self.bus.status.get(key.status_key) is not None:
            return resync_after(self.settings.resync_seconds)
        await self.bus.spec.delete(key.spec_key, entry.revision)
        await self._tell(key, "Deleted", f"{key.name} and its members in cluster {entry.value.target_cluster} are gone")
        return DONE

    # Delete: tombstone every data-plane spec, wait until every agent reports its objects gone.
    async def _delete(self, world: World) -> Result:
        await self._retain(world)
        for cluster in world.dataplane:
            await self.bus.dataplane.delete(world.key.dataplane_key(cluster))
        progress_due = await self._write_status(world, self._status_update(world, None))
        if world.observed:
            return Result(requeue_after=min(DELETE_POLL_SECONDS, progress_due or DELETE_POLL_SECONDS))
        await self.bus.status.delete(world.key.status_key)
        self._forget(world.key)
        entry = await self.bus.spec.get(world.key.spec_key)
        if entry is not None:
            await self.bus.spec.delete(world.key.spec_key, entry.revision)
        await self._tell(world.key, "Deleted", f"{world.key.name} and its members in every cluster are gone")
        return DONE
