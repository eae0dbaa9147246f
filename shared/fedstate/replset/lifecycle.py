"""What each member cluster should be told in this pass: members, replica-set config, restarts, step-downs.

One pure function, ``plan(LifecycleInput) -> Lifecycle``, over everything the orchestrator read:

- members stay where they are; added members get fresh ordinals; members leaving the set stay in their
  cluster's spec (``retiring``) until the replica-set config no longer lists them;
- before the set is initiated, the initial config once every member is Ready (as in the create flow);
  after, the next safe reconfig towards the wanted config (``fedstate.replset.plan_config_step``): new
  members as non-voters first, one voter per reconfig, a primary stepped down before it leaves;
- when every member holds a config that names other addresses (volumes adopted from a deleted
  instance) none can ever be elected: the wanted config installed with force on one of them
  (``stranded``); heartbeats carry it to the others;
- once the config is in sync, a rolling restart towards the spec's revision, one member at a time
  (``fedstate.replset.next_restart``); then featureCompatibilityVersion raised to the image's release;
- progress conditions saying what is left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fedstate.models.base import Condition
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus, MemberSpec, RetainedVolumes
from fedstate.models.placement import Placement
from fedstate.models.replicaset import OpTime, RsConfig

from .configsteps import HEALTHY, ConfigStep, WantedMember, desired_config, plan_config_step, remaining_changes
from .members import ArbiterSeat, Assignment, assign_arbiter, assign_members, high_water, member_name
from .quorum import QuorumLoss, quorum_loss, recovery_config
from .rolling import RollMember, RollStep, next_restart
from .rsconfig import choose_initiator, initial_config, voting_ordinals
from .versions import feature_compatibility_version, mongo_version, release_of


@dataclass(frozen=True)
class LifecycleInput:
    name: str
    image: str
    revision: str  # the revision every cluster's spec carries in this pass
    assignment: Assignment  # data members per cluster
    arbiter: ArbiterSeat | None
    placement: Placement | None
    dataplane: Mapping[str, DataPlaneSpec]  # as written now
    observed: Mapping[str, DataPlaneStatus]
    # A forced recovery was asked for while this quorum loss lasts (``fedstate recover --force``).
    recover: bool = False
    generation: int = 0  # the object's generation, which every cluster's spec of this pass carries


@dataclass(frozen=True)
class ClusterPlan:
    cluster: str
    members: list[MemberSpec]
    initiator: bool
    rs_config: RsConfig | None
    restart: list[int] = field(default_factory=list)
    step_down: list[int] = field(default_factory=list)
    fcv: str | None = None
    next_ordinal: int = 0
    force_on: int | None = None  # install rs_config with force on this member (see ``stranded``)
    users_created: bool = False
    # Members a forced recovery left out of the set: never admitted again, replaced by new ordinals.
    fenced: list[int] = field(default_factory=list)

    @property
    def ordinals(self) -> list[int]:
        return [m.ordinal for m in self.members]


@dataclass(frozen=True)
class Lifecycle:
    clusters: list[ClusterPlan]
    conditions: list[Condition]
    initiated: bool
    settled: bool  # config in sync and every member on its revision
    actions: list[str] = field(default_factory=list)  # what this pass asks of the agents, for events
    quorum: QuorumLoss | None = None  # the set lost its voting majority: who survived


def current_config(observed: Mapping[str, DataPlaneStatus]) -> RsConfig | None:
    """The newest config any member reports (the primary's, unless a report is stale)."""
    configs = [r.rs_config for r in observed.values() if r.initiated and r.rs_config is not None]
    return max(configs, key=lambda c: c.version) if configs else None


def member_states(observed: Mapping[str, DataPlaneStatus]) -> dict[int, str]:
    """ordinal → the member's state: its own stateStr (DOWN when its pod is not Ready), unless the primary
    does not see it healthy yet (a member back from a restart counts only once the primary agrees). How the
    primary sees it: as its own cluster's agent read it from the primary (``seenByPrimary``: a cluster without the
    primary reads it once one of its members restarted), else as the primary's cluster reports the primary's view
    (``primary_rows``)."""
    rows = primary_rows(observed)
    states = {}
    for report in observed.values():
        for member in report.members:
            own = member.role if member.ready else "DOWN"
            theirs = member.seen_by_primary or rows.get(member.ordinal) or own
            states[member.ordinal] = own if own not in HEALTHY or theirs in HEALTHY else theirs
    return states


def staying_rank(observed: Mapping[str, DataPlaneStatus]) -> dict[int, int]:
    """ordinal → which members a scale-down keeps in a cluster, lowest first (``assign_members``): the PRIMARY (its
    leaving costs a step-down and an election), then healthy voters, healthy non-voters (leaving, they change no
    vote), voters that do not answer, and the rest. Removing a member that does not answer, rather than one that
    does, leaves the set the same healthy voters."""
    states = member_states(observed)
    config = current_config(observed)
    voting = {m.id for m in config.members if m.votes} if config else set()
    return {
        ordinal: 0 if state == "PRIMARY" else 1 + 2 * (state not in HEALTHY) + (ordinal not in voting)
        for ordinal, state in states.items()
    }


def primary_rows(observed: Mapping[str, DataPlaneStatus]) -> dict[int, str]:
    """ordinal → its state in the PRIMARY's own view (replSetGetStatus), as the report of the cluster holding the
    PRIMARY carries it (the newest term's, if two say so): its agent reads that view whenever it looks, and keeps
    looking while a member is catching up. Only rows the primary gets heartbeat answers for: a row without them
    may be a view read before the member came up, which nobody reads again while nothing changes there."""
    holders = [r for r in observed.values() if r.replset and any(m.role == "PRIMARY" for m in r.members)]
    if not holders:
        return {}
    newest = max(holders, key=lambda r: (r.replset_term or 0, r.replset_seen_at or r.observed_at))
    return {row.id: row.state_str for row in newest.replset if row.health}


def member_optimes(observed: Mapping[str, DataPlaneStatus]) -> dict[int, OpTime]:
    """ordinal → the member's last applied write, as it says itself."""
    return {m.ordinal: m.optime for r in observed.values() for m in r.members if m.optime is not None}


def primary_seen_by_survivors(observed: Mapping[str, DataPlaneStatus], states: Mapping[int, str]) -> bool:
    """Does the view of the set read in a cluster with a member that answers show a healthy PRIMARY?"""
    return any(
        row.state_str == "PRIMARY" and row.health
        for report in observed.values()
        if any(states.get(m.ordinal) in HEALTHY for m in report.members)
        for row in report.replset
    )


def fenced_ordinals(dataplane: Mapping[str, DataPlaneSpec]) -> set[int]:
    """Members a forced recovery left out of the set, as every cluster's spec remembers them."""
    return {o for dp in dataplane.values() for o in dp.fenced}


def _located(dataplane: Mapping[str, DataPlaneSpec]) -> dict[int, tuple[str, MemberSpec]]:
    return {m.ordinal: (cluster, m) for cluster, dp in dataplane.items() for m in dp.members}


def _member_specs(inp: LifecycleInput, retiring: Mapping[int, tuple[str, MemberSpec]]) -> dict[str, list[MemberSpec]]:
    specs: dict[str, list[MemberSpec]] = {}
    for cluster, ordinals in inp.assignment.items():
        specs.setdefault(cluster, []).extend(MemberSpec(ordinal=o, name=member_name(inp.name, o)) for o in ordinals)
    if inp.arbiter is not None:
        cluster, ordinal = inp.arbiter
        specs.setdefault(cluster, []).append(
            MemberSpec(ordinal=ordinal, name=member_name(inp.name, ordinal), arbiter=True)
        )
    for cluster, member in retiring.values():
        specs.setdefault(cluster, []).append(member.model_copy(update={"retiring": True}))
    return {cluster: sorted(members, key=lambda m: m.ordinal) for cluster, members in specs.items()}


def assign_seats(
    dataplane: Mapping[str, DataPlaneSpec],
    observed: Mapping[str, DataPlaneStatus],
    placement: Placement | None,
    adopting: RetainedVolumes | None = None,
) -> tuple[Assignment, ArbiterSeat | None]:
    """Data members per cluster and the arbiter's seat under ``placement`` (None: as written now, while the placement
    is not usable). Members keep their seats; a cluster that wants fewer keeps those ``staying_rank`` puts first."""
    current: Assignment = {}
    arbiter: ArbiterSeat | None = None
    fenced = fenced_ordinals(dataplane)
    for cluster, dp in dataplane.items():
        for member in dp.members:
            if member.ordinal in fenced:
                continue  # left out by a forced recovery: a new member takes its seat
            if member.arbiter and not member.retiring:
                arbiter = (cluster, member.ordinal)
            elif not member.retiring:
                current.setdefault(cluster, []).append(member.ordinal)
    if placement is None:
        return current, arbiter
    # A fenced member's ordinal (and its volume) is never given to the member that replaces it.
    floor = max([dp.next_ordinal for dp in dataplane.values()] + [o + 1 for o in fenced], default=0)
    if adopting is not None:
        # The adopted members keep their ordinals, so their StatefulSets claim the old volumes.
        current = {cluster: list(ordinals) for cluster, ordinals in adopting.members.items()}
        floor = max(floor, adopting.next_ordinal)
    assignment = assign_members(current, placement.replicas_by_cluster(), floor, staying_rank(observed))
    arbiter_cluster = next((a.cluster for a in placement.clusters if a.arbiter), None)
    taken = {o for ordinals in assignment.values() for o in ordinals}
    taken |= {m.ordinal for dp in dataplane.values() for m in dp.members}
    return assignment, assign_arbiter(arbiter, arbiter_cluster, taken, floor)


def _wanted_ordinals(inp: LifecycleInput) -> set[int]:
    data = {o for ordinals in inp.assignment.values() for o in ordinals}
    return data | ({inp.arbiter[1]} if inp.arbiter else set())


def _ready(observed: Mapping[str, DataPlaneStatus]) -> dict[int, str]:
    """ordinal → address of every member whose pod is Ready."""
    return {m.ordinal: m.address for r in observed.values() for m in r.members if m.ready and m.address}


# States of a member that belongs to no working set: it can neither vote nor be elected.
_OUTSIDE_ANY_SET = frozenset({"REMOVED", "STARTUP"})


def stranded(inp: LifecycleInput, current: RsConfig, states: Mapping[int, str]) -> int | None:
    """The member to install a forced config on, or None.

    Only when nothing else can work: every wanted member's pod is Ready, none is in a working set
    (each is REMOVED: its config names other addresses, or STARTUP: no config at all), and at least
    one holds a config. That is the state of members that mount the volumes of a deleted instance
    under new ``VIP:NodePort`` addresses. A forced config never overrides a set that could still
    elect a primary, so it cannot roll back a write such a set acknowledged. The member with the
    lowest ordinal is chosen; which one does not matter: the election still picks the freshest.
    """
    wanted = _wanted_ordinals(inp)
    if not wanted or not wanted <= set(_ready(inp.observed)) or inp.placement is None:
        return None
    roles = {ordinal: states.get(ordinal, "UNKNOWN") for ordinal in wanted}
    if not set(roles.values()) <= _OUTSIDE_ANY_SET:
        return None
    removed = sorted(ordinal for ordinal, role in roles.items() if role == "REMOVED")
    return removed[0] if removed else None


def _forced(inp: LifecycleInput, current: RsConfig) -> RsConfig | None:
    config = _initial(inp, None)
    return config.model_copy(update={"version": current.version + 1}) if config else None


def _initial(inp: LifecycleInput, previous: RsConfig | None) -> RsConfig | None:
    """Keep the initial config once written, unless the members changed before anyone initiated it."""
    if previous is not None and {m.id for m in previous.members} == _wanted_ordinals(inp):
        return previous
    if inp.placement is None:
        return None
    return initial_config(inp.name, inp.assignment, inp.placement, _ready(inp.observed), inp.arbiter)


def _desired(inp: LifecycleInput, current: RsConfig) -> RsConfig:
    """The wanted members with their roles; a member not yet in the config joins once its pod is Ready."""
    if inp.placement is None:
        return current
    hosts = {m.id: m.host for m in current.members}
    ready = _ready(inp.observed)
    voters = voting_ordinals(inp.assignment, inp.placement)
    wanted = [
        WantedMember(o, hosts.get(o) or ready[o], o in voters)
        for ordinals in inp.assignment.values()
        for o in ordinals
        if o in hosts or o in ready
    ]
    if inp.arbiter is not None and (inp.arbiter[1] in hosts or inp.arbiter[1] in ready):
        ordinal = inp.arbiter[1]
        wanted.append(WantedMember(ordinal, hosts.get(ordinal) or ready[ordinal], True, arbiter=True))
    return desired_config(inp.name, wanted, current.version)


def _roll_members(inp: LifecycleInput, current: RsConfig, located: Mapping[int, str]) -> list[RollMember]:
    reports = {m.ordinal: m for r in inp.observed.values() for m in r.members}
    states = member_states(inp.observed)
    members = []
    for member in current.members:
        report = reports.get(member.id)
        members.append(
            RollMember(
                ordinal=member.id,
                cluster=located.get(member.id, "?"),
                state=states.get(member.id, "UNKNOWN"),
                ready=bool(report and report.ready),
                running=report.revision if report else "",
                wanted=inp.revision,
                voting=bool(member.votes),
                electable=member.priority > 0,
            )
        )
    return members


def _fcv(inp: LifecycleInput, current: RsConfig) -> str | None:
    """The image's release as FCV, once every member of the config reports that release."""
    target = feature_compatibility_version(inp.image)
    release = release_of(inp.image)
    versions = {m.ordinal: m.version for r in inp.observed.values() for m in r.members}
    for member in current.members:
        running = mongo_version(f"mongo:{versions.get(member.id, '')}")
        if running is None or running[:2] != release:
            return None
    return target


def _config_condition(current: RsConfig, desired: RsConfig, step: ConfigStep, pending: set[int]) -> Condition:
    if step.done and pending:
        names = ", ".join(f"m{o}" for o in sorted(pending))
        return Condition(
            type="MembersConfigured",
            status="False",
            reason="Reconfiguring",
            message=f"left: add {names}; now: waiting for {names} to be Ready before joining",
        )
    if step.done:
        voting = sum(1 for m in current.members if m.votes)
        return Condition(
            type="MembersConfigured",
            status="True",
            reason="InSync",
            message=f"the replica-set config lists {len(current.members)} members, {voting} voting",
        )
    return Condition(
        type="MembersConfigured",
        status="False",
        reason="Reconfiguring",
        message=f"left: {remaining_changes(current, desired)}; now: {step.action}",
    )


def clusters_behind(inp: LifecycleInput, members: Mapping[str, list[MemberSpec]]) -> list[str]:
    """The member clusters whose agent has not reported on this generation's spec yet. A change that restarts no
    member (a rotated password, a new label) is done only once every cluster holds it: a user who waited for the
    update, then read a cluster's Secret, read the old password."""
    return sorted(c for c in members if (r := inp.observed.get(c)) is None or r.generation < inp.generation)


def fcv_raised(inp: LifecycleInput, target: str | None) -> bool:
    """Does the set run at ``target`` featureCompatibilityVersion, as its initiator's agent last read it from the
    primary (None: the release sets no FCV)? Until then an upgrade is not done: the spec asking for it is written in
    the pass that finds every member on the new release, and the agent raises it a pass later."""
    return target is None or target in {r.feature_compatibility_version for r in inp.observed.values()}


def _roll_condition(
    inp: LifecycleInput, roll: RollStep | None, outdated: int, fcv: str | None, behind: list[str]
) -> Condition:
    if outdated == 0 and behind:
        return Condition(
            type="MembersUpdated",
            status="False",
            reason="Applying",
            message=f"generation {inp.generation} is yet to be applied in {', '.join(behind)}",
        )
    if outdated == 0 and not fcv_raised(inp, fcv):
        return Condition(
            type="MembersUpdated",
            status="False",
            reason="RaisingFeatureCompatibilityVersion",
            message=f"every member runs revision {inp.revision}; featureCompatibilityVersion is being raised to {fcv}",
        )
    if outdated == 0:
        extra = f" (featureCompatibilityVersion {fcv})" if fcv else ""
        return Condition(
            type="MembersUpdated",
            status="True",
            reason="Updated",
            message=f"every member runs revision {inp.revision}{extra}",
        )
    action = roll.action if roll is not None else "rolling restarts wait for the replica-set config to settle"
    return Condition(
        type="MembersUpdated",
        status="False",
        reason="RollingUpdate",
        message=f"{outdated} member(s) to restart with revision {inp.revision}: {action}",
    )


def users_created(inp: LifecycleInput) -> bool:
    """Once the agent of the primary's cluster has logged in as clusterAdmin, the set's users exist for good
    (users are replicated data: no failover or restart removes them)."""
    if any(spec.users_created for spec in inp.dataplane.values()):
        return True
    return any(r.users_ready and any(m.role == "PRIMARY" for m in r.members) for r in inp.observed.values())


def config_unread(observed: Mapping[str, DataPlaneStatus]) -> bool:
    """The set is initiated, yet no member's config could be read: its agents read it as clusterAdmin, a user a
    primary creates. Until then nobody knows which members the config lists."""
    return current_config(observed) is None and any(r.initiated for r in observed.values())


def plan(inp: LifecycleInput) -> Lifecycle:
    current = current_config(inp.observed)
    unread = config_unread(inp.observed)
    located = _located(inp.dataplane)
    in_config = {m.id for m in current.members} if current else set()
    wanted = _wanted_ordinals(inp)
    # A member leaves its cluster's spec only once the config is known not to list it: removing a voter the
    # config still counts costs the set its majority (found by the chaos test, seed 113880: a scale-down while
    # the first primary was not yet elected deleted two of five voters; a cluster failure then left two of five).
    retiring = {o: place for o, place in located.items() if o not in wanted and (unread or o in in_config)}
    members = _member_specs(inp, retiring)
    floor = high_water(set(located), wanted, floor=max((dp.next_ordinal for dp in inp.dataplane.values()), default=0))
    previous_initiator = next((c for c, dp in inp.dataplane.items() if dp.initiator), None)
    holding = frozenset(c for c, ordinals in inp.assignment.items() if in_config.intersection(ordinals))
    initiator = (
        choose_initiator(inp.assignment, inp.placement, previous_initiator, holding)
        if inp.placement and not unread
        else previous_initiator
    )
    written = next((dp.replica_set_config for dp in inp.dataplane.values() if dp.replica_set_config), None)
    where = {m.ordinal: cluster for cluster, specs in members.items() for m in specs}
    restart: dict[str, list[int]] = {}
    step_down: dict[str, list[int]] = {}
    conditions: list[Condition] = []
    fcv: str | None = None
    settled = False
    actions: list[str] = []
    states = member_states(inp.observed)
    seen = primary_seen_by_survivors(inp.observed, states)
    loss = (
        quorum_loss(current, states, member_optimes(inp.observed), primary_seen=seen) if current is not None else None
    )
    recovery = recovery_config(current, loss) if current is not None and loss is not None and inp.recover else None
    fenced = fenced_ordinals(inp.dataplane)
    force_on = stranded(inp, current, states) if current is not None else None
    forced = _forced(inp, current) if current is not None and force_on is not None else None
    rs_config: RsConfig | None
    if recovery is not None and loss is not None and loss.freshest is not None:
        force_on, forced, rs_config = loss.freshest.ordinal, recovery, recovery
        fenced |= set(loss.lost)
        initiator = where.get(force_on, initiator)  # its agent runs the forced reconfig on its own member
        actions.append(
            f"ForcedRecovery: the set lost its majority ({loss.describe()}); m{force_on}, the freshest survivor, "
            f"installs a config of the {len(recovery.members)} survivor(s) with force: writes not replicated "
            "to the survivors are lost"
        )
        conditions = [
            Condition(
                type="MembersConfigured",
                status="False",
                reason="ForcedRecovery",
                message=f"m{force_on} installs the survivors' config with force; "
                f"{_fenced_names(loss.lost)} leave the set for good",
            )
        ]
    elif forced is not None and force_on is not None:
        rs_config = forced
        initiator = where.get(force_on, initiator)  # its agent runs the forced reconfig on its own member
        actions.append(f"ForcedReconfig: m{force_on} installs version {forced.version} with the members' addresses")
        conditions = [
            Condition(
                type="MembersConfigured",
                status="False",
                reason="ForcedReconfig",
                message=f"every member holds a config naming other addresses; m{force_on} installs it with force",
            )
        ]
    elif unread:
        # Neither a new initial config (the set has one) nor a restart (members hold data) until it is read.
        rs_config = written
        conditions = [
            Condition(
                type="MembersConfigured",
                status="False",
                reason="ConfigUnread",
                message="the set is initiated; its config is read once a primary has created its users: "
                "until then no member leaves it and none restarts",
            )
        ]
    elif current is None:
        rs_config = _initial(inp, written)
        # Nothing holds data yet: every member seen running another revision may take the new one at once. Only
        # those: a member not seen yet starts on the spec's revision anyway, and a list of every member, emptied
        # at the initiation, cost each cluster of every new set one more spec write and agent pass.
        running = {m.ordinal: m.revision for r in inp.observed.values() for m in r.members}
        for cluster, specs in members.items():
            restart[cluster] = [m.ordinal for m in specs if running.get(m.ordinal) not in (None, "", inp.revision)]
    else:
        desired = _desired(inp, current)
        step = plan_config_step(current, desired, member_states(inp.observed))
        rs_config = step.config or written
        if step.config is not None or step.step_down is not None:
            actions.append(f"Reconfiguring: {step.action}")
        if step.step_down is not None:
            step_down.setdefault(where.get(step.step_down, "?"), []).append(step.step_down)
        roll_members = _roll_members(inp, current, where)
        roll = next_restart(roll_members) if step.done else None
        if roll is not None and (roll.restart or roll.step_down):
            actions.append(f"RollingUpdate: {roll.action}")
        if roll is not None and roll.step_down is not None:
            step_down.setdefault(roll.step_down.cluster, []).append(roll.step_down.ordinal)
        if roll is not None and roll.restart is not None:
            restart.setdefault(roll.restart.cluster, []).append(roll.restart.ordinal)
        outdated = sum(1 for m in roll_members if m.running != m.wanted)
        if step.done and outdated == 0 and wanted <= in_config:
            fcv = _fcv(inp, current)
            settled = True
        pending = wanted - in_config
        behind = clusters_behind(inp, members)
        conditions = [
            _config_condition(current, desired, step, pending),
            _roll_condition(inp, roll, outdated, fcv, behind),
        ]
    clusters = [
        ClusterPlan(
            cluster=cluster,
            members=specs,
            initiator=cluster == initiator,
            rs_config=rs_config if cluster == initiator else None,
            restart=sorted(restart.get(cluster, [])),
            step_down=sorted(step_down.get(cluster, [])),
            fcv=fcv if cluster == initiator else None,
            next_ordinal=floor,
            force_on=force_on
            if forced is not None and force_on is not None and where.get(force_on) == cluster
            else None,
            fenced=sorted(fenced),
            users_created=users_created(inp),
        )
        for cluster, specs in sorted(members.items())
    ]
    return Lifecycle(
        clusters=clusters,
        conditions=conditions,
        initiated=current is not None or unread,
        settled=settled,
        actions=actions,
        quorum=loss,
    )


def _fenced_names(ordinals: tuple[int, ...]) -> str:
    return ", ".join(f"m{o}" for o in ordinals) or "no member"
