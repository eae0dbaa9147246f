"""The agent's reconcile loop for federation mode: one DataPlaneSpec of this cluster → Kubernetes objects,
replica-set admin, and a DataPlaneStatus report.

Steps: load (missing → tear down) · apply objects · observe · act (what the spec asks) · report. A steady pass
that read only memory and changed nothing is remembered (``QuietPass``): the next one over the same inputs returns
at once, until one of them moves or a cached answer it used is due again.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp
from pydantic import BaseModel

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.events import emit
from fedstate.bus.names import InstanceKey, Kind, parse_dataplane_key
from fedstate.bus.store import Entry, Outcome
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus, MemberObservation
from fedstate.reconcile import DONE, Result, resync_after
from fedstate.replset import HEALTHY
from fedstate.sealing import KeyRing, PinnedKeys, SealingError, open_dataplane_spec
from fedstate.settings import AgentSettings

from .kubeobjects import KubeObjects
from .memberset import EventSink, MemberSet, ObjectsRefused
from .metrics import PASSES_FROM_MEMORY
from .mongo import MongoAdmin
from .podshell import PodShell

log = logging.getLogger(__name__)
COMPONENT = "dataplane-agent"
# A change of one of our Kubernetes objects comes from the informers, a change of a member's state from
# its watch (``MongoAdmin.on_change``), a change of spec by the bus: each enqueues the instance.
# While anything is moving, this look-again is only the fallback for what none of them reports
# (a command that has not taken effect yet); once steady, ``resync_seconds`` is only a safety net.
# It doubles with each pass that saw nothing new (up to ``MAX_BUSY_REQUEUE_SECONDS``): a member that does
# not answer yet is not asked every second, by every agent, while a fleet is being created.
BUSY_REQUEUE_SECONDS = 1.0
MAX_BUSY_REQUEUE_SECONDS = 8.0
# When all that is left is members here still coming up (a pod starting, a mongod syncing), each move of theirs
# reaches the agent by itself — their pods' through its informers, their states' through their watches — so the
# look-again is a safety net only. At 1,000 sets being created at once, looking again every second while members
# waited for a loaded machine made two passes in five look-agains that found nothing new.
MOVING_REQUEUE_SECONDS = 5.0
MAX_MOVING_REQUEUE_SECONDS = 30.0
# A report whose only news is progress (``progress_only``) waits this long at most for news a decision needs, and
# goes with it: a member's pod is created, bound to a node and started within milliseconds of each other when all
# goes well, an initiated member holds its config a moment after the command returns, and each report on the way
# cost a write, an orchestrator pass and a share of two cores that the pass towards initiation was waiting for. A
# pod that stays Pending is told this late.
PROGRESS_HOLD_SECONDS = 0.5
FEDERATED_KIND = "MultiCloudMongoDB"
# How soon objects the cluster's API refused are tried again when nothing changes: a webhook or a policy there may
# be changed without any change of ours.
REFUSED_REQUEUE_SECONDS = 30.0
SEALED_CREDENTIALS = "SealedCredentials"  # the reason of the event and condition that refuse a sealed secret


def is_steady(report: DataPlaneStatus, spec: DataPlaneSpec) -> bool:
    """Nothing left to do here or to wait for: every member here healthy, on the spec's revision, and seen
    healthy by the primary."""
    return settled_here(report, spec) and not primary_view_lags(report)


def settled_here(report: DataPlaneStatus, spec: DataPlaneSpec) -> bool:
    """Every member here healthy and on the spec's revision, as the members themselves say, nothing asked of us."""
    return bool(
        report.initiated
        and all(m.role in HEALTHY and m.revision == spec.revision for m in report.members)
        and nothing_pending_here(report, spec)
    )


def nothing_pending_here(report: DataPlaneStatus, spec: DataPlaneSpec) -> bool:
    """Nothing asked of this agent is left to do or to try again: no restart or step-down, no user to create,
    no command that failed."""
    return bool(
        not spec.restart
        and not spec.step_down
        # Users still to create once a primary exists — root by the agent of the primary's cluster, the
        # others by the initiator: keep looking soon.
        and (report.users_ready or not (spec.initiator or any(m.role == "PRIMARY" for m in report.members)))
        # Something asked of us failed (a reconfig, a step-down, a user, the FCV: a primary too loaded to answer
        # in time): try again soon. Counted steady, a failed reconfig waited for the safety resync, and a scale
        # wave of 100 instances at 1,000 had one instance not settled after five minutes.
        and not any(condition.status == "False" for condition in report.conditions)
    )


def primary_view_lags(report: DataPlaneStatus) -> bool:
    """The primary does not see yet what the members say: it learns their states by heartbeat."""
    return any(m.seen_by_primary and m.seen_by_primary not in HEALTHY for m in report.members) or (
        members_catching_up(report)
    )


def members_catching_up(report: DataPlaneStatus) -> bool:
    """The PRIMARY is here and reaches a member, in any cluster, that is not PRIMARY, SECONDARY or ARBITER yet
    (initial sync, recovering): keep reading its view until the member is a SECONDARY whose lag it shows."""
    if not any(m.role == "PRIMARY" for m in report.members):
        return False
    return any(row.health and row.state_str not in HEALTHY for row in report.replset)


def is_news(published: DataPlaneStatus, report: DataPlaneStatus) -> bool:
    """Whether ``report`` says anything ``published`` does not, beyond how recent its readings are.

    When a view was read and the optimes in it are readings that move on their own: a primary writes a no-op to
    its oplog every 10 s, so a steady set read again has newer optimes and nothing else new. Publishing those
    would make the fleet's safety re-reads a stream of writes that grows with its size. Whatever the optimes
    are read for changes something else first: a lost majority changes the survivors' view of their peers'
    health, and that report carries their optimes at that moment.
    """
    # Field by field, without copies: a steady instance's safety resync asks this of every pass.
    return not (
        _same_but(published, report, _REPORT_READINGS)
        and _same_rows(published.members, report.members, _MEMBER_READINGS)
        and _same_rows(published.replset, report.replset, _ROW_READINGS)
    )


_REPORT_READINGS = frozenset({"observed_at", "replset_seen_at", "members", "replset"})
_MEMBER_READINGS = frozenset({"optime"})
_ROW_READINGS = frozenset({"optime_seconds"})


def _same_but(a: BaseModel, b: BaseModel, readings: frozenset[str]) -> bool:
    return all(value == getattr(b, name) for name, value in a if name not in readings)


def news_in(published: DataPlaneStatus, report: DataPlaneStatus) -> list[str]:
    """What ``report`` says that ``published`` does not (``is_news``), as field paths: a member's or a view row's
    field by its index (``members[1].role``), the list itself when its length changed."""
    changed = [name for name, value in published if name not in _REPORT_READINGS and value != getattr(report, name)]
    for field, readings in (("members", _MEMBER_READINGS), ("replset", _ROW_READINGS)):
        before, after = getattr(published, field), getattr(report, field)
        if len(before) != len(after):
            changed.append(field)
            continue
        changed.extend(
            f"{field}[{index}].{name}"
            for index, (old, new) in enumerate(zip(before, after, strict=True))
            for name, value in old
            if name not in readings and value != getattr(new, name)
        )
    return changed


# What a report tells that no decision of the federation reads: of its members' pods coming up, which phase, on which
# node, which run (``incarnation``), which revision, why (``message``); the StatefulSet's current revision; and the
# agent's own conditions (what it did or failed to do, for operators: the agent itself acts on the report it builds,
# not on the one it published). A member's readiness, role, address and version and the set's state are decisions'
# inputs.
_PROGRESS_FIELDS = frozenset({"current_revision", "conditions"})
_PROGRESS_MEMBER_FIELDS = frozenset({"pod_phase", "node", "incarnation", "revision", "message"})


def progress_only(published: DataPlaneStatus | None, report: DataPlaneStatus) -> bool:
    """Is all ``report`` tells beyond ``published`` progress no decision reads? A first report is compared
    with its members known by name and address alone: the federation waits for them to be ready, not to exist."""
    before = published if published is not None else _bare(report)
    return all(_is_progress(path) for path in news_in(before, report))


def _bare(report: DataPlaneStatus) -> DataPlaneStatus:
    members = [MemberObservation(ordinal=m.ordinal, name=m.name, address=m.address) for m in report.members]
    return DataPlaneStatus(
        cluster=report.cluster,
        generation=report.generation,
        revision=report.revision,
        members=members,
        observed_at=report.observed_at,
    )


def _is_progress(path: str) -> bool:
    if path.startswith("members["):
        return path.rpartition(".")[2] in _PROGRESS_MEMBER_FIELDS
    return path in _PROGRESS_FIELDS


class ProgressHold:
    """Per key, since when a report with progress only has been held back (``PROGRESS_HOLD_SECONDS``)."""

    def __init__(self, seconds: float = PROGRESS_HOLD_SECONDS) -> None:
        self.seconds = seconds
        self._since: dict[str, float] = {}

    def hold(
        self, key: str, published: DataPlaneStatus | None, report: DataPlaneStatus, now: float, *, news: bool
    ) -> float | None:
        """Seconds to hold ``report`` back yet, or None to publish it now (when it is ``news`` at all: the caller's
        ``is_news``, asked once per pass)."""
        if not news or not progress_only(published, report):
            self._since.pop(key, None)
            return None
        left = self._since.setdefault(key, now) + self.seconds - now
        if left > 0:
            return left
        self._since.pop(key, None)
        return None

    def forget(self, key: str) -> None:
        self._since.pop(key, None)


def _same_rows(a: Sequence[BaseModel], b: Sequence[BaseModel], readings: frozenset[str]) -> bool:
    return len(a) == len(b) and all(x == y or _same_but(x, y, readings) for x, y in zip(a, b, strict=True))


def requeue_for(
    report: DataPlaneStatus,
    spec: DataPlaneSpec,
    resync_seconds: float,
    passes_unchanged: int = 0,
    heartbeat_seconds: float | None = None,
) -> Result:
    """Soon while anything is moving (later after each pass that saw no change), every ``resync_seconds``
    once it is steady. When all that is left is the primary's view catching up with the members here, the
    set's heartbeat says when it can have: look again one heartbeat later (then backing off the same way).
    When all that is left is members here coming up, they say when they move: look again only as a safety net."""
    if is_steady(report, spec):
        return resync_after(resync_seconds)
    backoff = 2 ** min(passes_unchanged, 8)
    if nothing_pending_here(report, spec) and not primary_view_lags(report):
        return Result(requeue_after=min(MOVING_REQUEUE_SECONDS * backoff, MAX_MOVING_REQUEUE_SECONDS))
    busy = min(BUSY_REQUEUE_SECONDS * backoff, MAX_BUSY_REQUEUE_SECONDS)
    if heartbeat_seconds and settled_here(report, spec):
        return Result(requeue_after=min(heartbeat_seconds * backoff, busy))
    return Result(requeue_after=busy)


def follow_members(mongo: MongoAdmin, report: DataPlaneStatus, look_again: Callable[[], None]) -> None:
    """Look at the instance again as soon as one of its members here changes state."""
    for member in report.members:
        if member.address:
            mongo.on_change(member.address, look_again)


def event_sink(bus: Bus, cluster: str, instance: InstanceKey) -> EventSink:
    """Events about one instance, marked with the member cluster whose agent saw them."""

    async def sink(reason: str, message: str, warning: bool) -> None:
        await emit(
            bus.js, instance, reason=reason, message=f"[{cluster}] {message}", component=COMPONENT, warning=warning
        )

    return sink


@dataclass(frozen=True)
class World:
    """What one pass of an instance reads in its cluster, named by revisions and counts: the data-plane spec's
    revision and the opened spec (its keys), our last report's revision, the changes the informers told of the
    instance's objects; and, for the pass itself, every API request and every member command or change of this
    agent (another pass's included: a pass during which anything moved is not remembered)."""

    dataplane: int
    spec: int
    observed: int
    objects: int
    api_calls: int
    member_activity: int

    def same_inputs(self, other: World) -> bool:
        return (self.dataplane, self.spec, self.observed, self.objects) == (
            other.dataplane,
            other.spec,
            other.observed,
            other.objects,
        )


@dataclass(frozen=True)
class QuietPass:
    """A steady pass that read only memory and changed nothing (``AgentReconciler._remember_quiet``)."""

    world: World
    members: tuple[str, ...]  # the members it read, here and the primary
    touched: tuple[int, ...]  # commands sent to each and changes its watch told, then
    fresh_until: float  # monotonic: the first cached answer it used is due again, or an object to be re-applied

    def holds(self, now: World, touched: tuple[int, ...], at: float) -> bool:
        return self.world.same_inputs(now) and self.touched == touched and at < self.fresh_until


class OpenedSpecs:
    """Each key's spec with its credentials opened, kept while neither its revision nor the keys changed (the
    federation's this agent trusts, this cluster's own): opening, validating and rendering a spec again were a
    third of a steady pass. A change of the trusted keys opens it again, so a revoked sealer is refused at once."""

    def __init__(self, ring: KeyRing, trusted: PinnedKeys, cluster: str) -> None:
        self.ring, self.trusted, self.cluster = ring, trusted, cluster
        self._opened: dict[str, tuple[tuple[int, frozenset[str], tuple[str, ...]], DataPlaneSpec, int]] = {}
        self._serials = itertools.count(1)

    def serial(self, key: str) -> int:
        """Which opening of the key's spec is held (a new one for each new spec object), 0 for none."""
        held = self._opened.get(key)
        return held[2] if held is not None else 0

    def open(self, key: str, entry: Entry[DataPlaneSpec]) -> DataPlaneSpec:
        """The same object as last time for the same inputs; ``SealingError`` when it cannot be opened."""
        senders = self.trusted.keys()
        inputs = (entry.revision, senders, self.ring.public_keys)
        held = self._opened.get(key)
        if held is not None and held[0] == inputs:
            return held[1]
        self._opened.pop(key, None)
        spec = open_dataplane_spec(self.ring, entry.value, self.cluster, senders)
        self._opened[key] = (inputs, spec, next(self._serials))
        return spec

    def forget(self, key: str) -> None:
        self._opened.pop(key, None)


class AgentReconciler:
    def __init__(
        self,
        bus: Bus,
        kube: KubeObjects,
        settings: AgentSettings,
        vip: str,
        dataplane: KVCache[DataPlaneSpec],
        observed: KVCache[DataPlaneStatus],
        ring: KeyRing,
        trusted: PinnedKeys,
    ) -> None:
        self.bus = bus
        self.ring = ring
        self.trusted = trusted
        self.dataplane = dataplane
        self.observed = observed
        self.settings = settings
        self.mongo = MongoAdmin(PodShell(kube.core.api_client), settings.member_recheck_seconds)
        self.members = MemberSet(kube, self.mongo, settings.cluster, vip)
        self.enqueue: Callable[[str], None] = lambda key: None  # set to the controller's once it exists
        self._passes_unchanged: dict[str, int] = {}  # key → passes in a row whose report changed nothing
        self._refused: dict[str, str] = {}  # key → why its sealed credentials were refused (told once)
        self.opened = OpenedSpecs(ring, trusted, settings.cluster)
        self._quiet: dict[str, QuietPass] = {}  # key → what its last steady pass that changed nothing read
        self.progress = ProgressHold()

    def _world(self, key: str, instance: InstanceKey) -> World:
        """What a pass of ``instance`` reads here, by revision and change count, as it stands now."""
        entry, report = self.dataplane.get(key), self.observed.get(key)
        return World(
            entry.revision if entry is not None else 0,
            self.opened.serial(key),
            report.revision if report is not None else 0,
            self.members.kube.changes(instance.namespace, instance.name),
            self.members.kube.calls,
            self.mongo.activity,
        )

    def _remember_quiet(
        self, key: str, world: World, spec: DataPlaneSpec, report: DataPlaneStatus, primary: str | None
    ) -> None:
        """A steady pass during which nothing moved (no command to a member, no API request, no change told, no
        write of its report) read only memory: the next one, with the same inputs and before any cached answer it
        used is due again, would end the same."""
        members = tuple(sorted({*report.addresses().values(), *([primary] if primary else [])}))
        self._quiet[key] = QuietPass(
            world,
            members,
            self.mongo.touched(members),
            min(self.mongo.fresh_until(members), self.members.applied_until(spec)),
        )

    async def reconcile(self, key: str) -> Result:
        cluster, instance = parse_dataplane_key(key)
        if cluster != self.settings.cluster:
            return DONE
        entry = self.dataplane.get(key)
        if entry is None:
            self._refused.pop(key, None)
            self._quiet.pop(key, None)
            self.progress.forget(key)
            self.opened.forget(key)
            return await self._tear_down(key, instance)
        try:
            spec = self.opened.open(key, entry)
        except SealingError as exc:
            # Sealed by another key than the federation's, to a key this agent no longer holds, or for another
            # place: nothing is done here with it. The federation seals it again to the key the lease publishes,
            # and that write brings the spec back here.
            await self._refuse(key, instance, str(exc))
            return resync_after(self.settings.resync_seconds)
        self._refused.pop(key, None)
        previous = self.observed.get(key)
        quiet = self._quiet.pop(key, None)
        world = self._world(key, instance)
        if quiet is not None and quiet.holds(world, self.mongo.touched(quiet.members), time.monotonic()):
            self._quiet[key] = quiet
            PASSES_FROM_MEMORY.inc()
            return resync_after(self.settings.resync_seconds, from_memory=True)
        before = world
        events = self._events(spec)
        try:
            await self.members.apply(spec, events)
        except ObjectsRefused:
            return Result(requeue_after=REFUSED_REQUEUE_SECONDS)  # told as events; a new spec comes at once
        published = previous.value if previous is not None else None
        snapshot = await self.members.observe(spec, published)
        acted = await self.members.act(spec, snapshot, events)
        if acted.created_users:
            # This look predates the users just created: look again before reporting, so that one report says
            # both (the users, and that clusterAdmin reads the set). Reported first and looked at again in the next
            # pass, it was a write, an orchestrator pass and a status write more per instance on its way to Health.
            snapshot = await self.members.observe(spec, published)
        report = self.members.report(spec, snapshot, acted)
        news = published is None or is_news(published, report)
        if (held := self.progress.hold(key, published, report, time.monotonic(), news=news)) is not None:
            follow_members(self.mongo, report, lambda: self.enqueue(key))
            return Result(requeue_after=held)
        outcome = await self._publish(key, published, report) if news else Outcome.UNCHANGED
        if outcome is Outcome.UNCHANGED:
            self._passes_unchanged[key] = self._passes_unchanged.get(key, 0) + 1
        else:
            self._passes_unchanged.pop(key, None)
        follow_members(self.mongo, report, lambda: self.enqueue(key))
        if previous is not None:  # members that left the spec: stop watching them
            await self.mongo.forget(set(previous.value.addresses().values()) - set(report.addresses().values()))
        if is_steady(report, spec):
            await self.mongo.settle(set(report.addresses().values()), snapshot.primary)
            if outcome is Outcome.UNCHANGED and self._world(key, instance) == before:
                self._remember_quiet(key, before, spec, report, snapshot.primary)
        return requeue_for(
            report, spec, self.settings.resync_seconds, self._passes_unchanged.get(key, 0), snapshot.heartbeat_seconds
        )

    async def _refuse(self, key: str, instance: InstanceKey, why: str) -> None:
        """Say once (a warning event, and the log) why a spec's credentials are refused and nothing was done."""
        log.warning("refused the spec's sealed credentials", extra={"key": key, "error": why})
        if self._refused.get(key) == why:
            return
        self._refused[key] = why
        message = f"refused the sealed credentials of {instance.name}, nothing is changed in this cluster: {why}"
        await event_sink(self.bus, self.settings.cluster, instance)(SEALED_CREDENTIALS, message, True)

    async def _publish(self, key: str, published: DataPlaneStatus | None, report: DataPlaneStatus) -> Outcome:
        """Write a report that is news (``is_news``) over the one ``published``."""
        if published is not None and log.isEnabledFor(logging.DEBUG):
            log.debug("report changed", extra={"key": key, "fields": news_in(published, report)})
        return await self.observed.write_through(key, report)

    async def _tear_down(self, key: str, instance: InstanceKey) -> Result:
        namespace, name = instance.namespace, instance.name
        try:
            last = self.observed.get(key)
            remaining = await self.members.tear_down(
                namespace, name, FEDERATED_KIND, last.value if last is not None else None
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # The API does not answer (the cluster failed): what is left here are stale members, fenced by the
            # set but still running. Ask again every second, not after a backoff grown to 30 s, so they are
            # gone as soon as the cluster is back.
            log.info("tear-down waits for the cluster's API", extra={"key": key, "error": repr(exc)})
            return Result(requeue_after=BUSY_REQUEUE_SECONDS)
        if remaining:
            return Result(requeue_after=BUSY_REQUEUE_SECONDS)
        if last is not None:  # the first pass to find it all gone: said once, as the report goes
            await self.members.tell_volumes_kept(namespace, name, event_sink(self.bus, self.settings.cluster, instance))
        await self.bus.observed.delete(key)
        await self.observed.catch_up()  # so that a pass right after this one finds the report gone
        self._passes_unchanged.pop(key, None)
        return DONE

    def _events(self, spec: DataPlaneSpec) -> EventSink:
        instance = InstanceKey(
            spec.instance.tenant, spec.instance.namespace, Kind(spec.instance.kind.lower()), spec.instance.name
        )
        return event_sink(self.bus, self.settings.cluster, instance)
