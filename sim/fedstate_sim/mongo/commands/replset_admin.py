"""Replica-set administration: replSetInitiate, replSetReconfig, replSetStepDown, replSetFreeze, replSetStepUp.

Semantics follow mongod 4.4+: initiate needs an uninitiated member named in the
config and every other member reachable and uninitiated (the quorum check); a
safe reconfig runs on the primary, needs a higher version, changes at most one
voter, waits for the current config to be committed before installing and for
the new one afterwards (bounded by ``maxTimeMS``; on timeout
CurrentConfigNotCommittedYet, 308) and refuses to overlap another reconfig
(ConfigurationInProgress, 109). ``force: true`` installs at once on the
receiving member, on a SECONDARY as on a member of a set without a primary, with the proposed version
raised by 10,000 plus a random amount below 100,000 (mongod's rule), and is recorded on the fabric; a
PRIMARY not electable in the forced config steps down. Step-down waits for a caught-up electable secondary and
lets it stand for election at once.

A config is committed (``config_committed``) when a majority of its voters have installed it and what the config
before it had committed, as well as the primary's first entry of its term, is durable on a write majority of it
(mongod's config and oplog commitment): without the second half, two reconfigs that each remove one voter can
leave a committed write on a minority.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fedstate_sim.mongo.commands.context import CommandContext
from fedstate_sim.mongo.commands.registry import Reply, command
from fedstate_sim.mongo.commands.replset_status import config_committed
from fedstate_sim.mongo.election import run_election
from fedstate_sim.mongo.errors import Code, CommandError
from fedstate_sim.mongo.member import AUTH_FAILED, Member
from fedstate_sim.mongo.peers import State
from fedstate_sim.mongo.reconfig import check_reconfig, require_member
from fedstate_sim.mongo.replset import attach
from fedstate_sim.mongo.rsconfig import RsConfig, parse_config
from fedstate_sim.mongo.services import ForcedReconfigRecord
from fedstate_sim.mongo.storage import FCV_ID, NULL_OPTIME, SYSTEM_VERSION_NS, OplogEntry, next_optime
from fedstate_sim.mongo.versions import release_name, release_of

Doc = dict[str, Any]
# mongod adds 10,000 plus a random number below 100,000 to the version a forced config proposes (not to the
# installed one: a forced config proposing a much lower version may install below it).
FORCE_VERSION_JUMP = (10_000, 109_999)


@command("replSetInitiate")
async def replset_initiate(ctx: CommandContext, cmd: Doc) -> Reply:
    member, now = ctx.member, ctx.now
    if member.data.config is not None:
        raise CommandError(Code.AlreadyInitialized, "already initialized")
    doc = cmd.get("replSetInitiate")
    if not isinstance(doc, dict) or not doc:
        doc = {"_id": member.launch.repl_set, "members": [{"_id": 0, "host": member.host}]}
    config = parse_config(doc, member.services.config_defaults, version_required=False)
    if config.name != member.launch.repl_set:
        raise CommandError(
            Code.InvalidReplicaSetConfig,
            f"Attempting to initiate a replica set with name {config.name}, but command line "
            f"reports {member.launch.repl_set}; rejecting",
        )
    require_member(config, member.host)
    if not member.data.is_empty():
        raise CommandError(Code.AlreadyInitialized, "local database is not empty; cannot initiate set")
    _quorum_check(member, config)
    member.data.append(OplogEntry(next_optime(0, NULL_OPTIME), "n", "", {"msg": "initiating set"}, now))
    # The set's FCV starts as the initiator's release, as data every member syncs and keeps.
    fcv = {"_id": FCV_ID, "version": release_name(release_of(member.launch.image))}
    member.data.append(OplogEntry(next_optime(0, member.data.last_optime), "i", SYSTEM_VERSION_NS, fcv, now))
    member.data.flush_journal()  # mongod makes the new set's first entries durable before it answers
    member.install_config(config, now, "replSetInitiate")
    member.election_deadline = now + config.heartbeat_interval_millis / 1000  # the initiator stands first
    group = attach(member)
    assert group is not None
    group.poke()
    return {"ok": 1.0}


def _quorum_check(member: Member, config: RsConfig) -> None:
    failures = []
    for peer_config in config.members:
        peer = member.services.members.get(peer_config.host)
        if peer_config.host == member.host:
            continue
        failure = None if peer is None else member.link_error(peer)
        if peer is None or failure is not None:
            failures.append(f"{peer_config.host} failed with {_quorum_failure(failure)}")
        elif peer.data.config is not None or not peer.data.is_empty():
            failures.append(f"{peer_config.host} has data already, cannot initiate set")
        elif peer.launch.repl_set != config.name:
            failures.append(f"{peer_config.host} was started with --replSet {peer.launch.repl_set}")
    if failures:
        raise CommandError(
            Code.NodeNotFound,
            "replSetInitiate quorum check failed because not all proposed set "
            "members responded affirmatively: " + ", ".join(failures),
        )


def _quorum_failure(link_error: str | None) -> str:
    """mongod's words for a member the quorum check could not use: refused, or internal auth failing."""
    return AUTH_FAILED if link_error == AUTH_FAILED else "Connection refused"


@command("replSetReconfig")
async def replset_reconfig(ctx: CommandContext, cmd: Doc) -> Reply:
    member, force = ctx.member, bool(cmd.get("force"))
    current = member.data.config
    if current is None:
        raise CommandError(Code.NotYetInitialized, "no replset config has been received")
    if not force and member.state is not State.PRIMARY:
        raise CommandError(
            Code.NotWritablePrimary,
            f"replSetReconfig should only be run on a writable PRIMARY. Current state {member.state.label};",
        )
    if member.reconfiguring:
        raise CommandError(
            Code.ConfigurationInProgress,
            "Cannot run replSetReconfig because the node is currently updating its configuration",
        )
    new = _proposed(member, current, cmd["replSetReconfig"], force)
    member.reconfiguring = True
    try:
        if force:
            _install_forced(member, current, new, ctx.now)
        else:
            await _safe_reconfig(ctx, member, current, new, cmd.get("maxTimeMS"))
    finally:
        member.reconfiguring = False
    return {"ok": 1.0}


def _proposed(member: Member, current: RsConfig, doc: Any, force: bool) -> RsConfig:
    if isinstance(doc, dict):
        settings = dict(doc.get("settings") or {})
        settings.setdefault("replicaSetId", current.replica_set_id)
        doc = {**doc, "settings": settings}
    new = parse_config(doc, member.services.config_defaults, version_required=True)
    check_reconfig(current, new, force=force)
    me = require_member(new, member.host)
    if not force and not me.electable:
        raise CommandError(
            Code.NodeNotElectable,
            f"This node, {member.host}, with _id {me.id} is not electable under the new configuration "
            f"with {{version: {new.version}}} for replica set {new.name}",
        )
    return new


async def _safe_reconfig(
    ctx: CommandContext, member: Member, current: RsConfig, new: RsConfig, max_time_ms: Any
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + float(max_time_ms) / 1000 if max_time_ms else None
    await _await_commitment(member, current, deadline, "current")
    member.committed_in_prev_config = member.commit_point
    member.install_config(new.with_version(new.version, member.data.term), ctx.now, "replSetReconfig")
    if member.group is not None:
        member.group.poke()
    await _await_commitment(member, new, deadline, "new")


async def _await_commitment(member: Member, config: RsConfig, deadline: float | None, which: str) -> None:
    """Wait until a majority of voters report ``config``'s version (mongod's config commitment)."""
    loop = asyncio.get_running_loop()
    while True:
        if member.state is not State.PRIMARY or member.group is None:
            raise CommandError(Code.NotWritablePrimary, "primary stepped down while waiting for config commitment")
        if config_committed(member, config, loop.time()):
            return
        remaining = None if deadline is None else deadline - loop.time()
        try:
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            await asyncio.wait_for(member.group.next_round(), remaining)
        except TimeoutError:
            raise CommandError(
                Code.CurrentConfigNotCommittedYet,
                f"the {which} config (version {config.version}) is not yet committed: a majority of the voting "
                "members must have installed it, and hold what the previous config committed",
            ) from None


def _install_forced(member: Member, current: RsConfig, new: RsConfig, now: float) -> None:
    low, high = FORCE_VERSION_JUMP
    version = new.version + member.services.rng.randint(low, high)
    config = new.with_version(version, member.data.term)
    member.install_config(config, now, "replSetReconfig with force: true")
    member.services.forced_reconfigs.append(
        ForcedReconfigRecord(config.name, member.host, version, [m.host for m in config.members])
    )
    member.log(
        "FORCED reconfig to version %d: writes not on this member may be rolled back elsewhere",
        version,
        level=logging.WARNING,
    )
    if member.group is not None:
        member.group.poke()


@command("replSetStepDown")
async def replset_step_down(ctx: CommandContext, cmd: Doc) -> Reply:
    member = ctx.member
    if member.state is not State.PRIMARY:
        raise CommandError(Code.NotWritablePrimary, "not primary so can't step down")
    step_down_secs = float(cmd.get("replSetStepDown") or 60)
    catch_up_secs = float(cmd.get("secondaryCatchUpPeriodSecs", min(10.0, step_down_secs)))
    if catch_up_secs > step_down_secs:
        raise CommandError(Code.BadValue, "stepdown period must be longer than secondaryCatchUpPeriodSecs")
    target = await _wait_for_caught_up(member, catch_up_secs)
    if target is None and not cmd.get("force"):
        raise CommandError(
            Code.ExceededTimeLimit,
            "No electable secondaries caught up. Please use the replSetStepDown command with the "
            "argument {force: true} to force node to step down.",
        )
    now = ctx.now
    member.step_down(now, "replSetStepDown", freeze_secs=step_down_secs)
    if target is not None and member.group is not None:
        run_election(member.group, target, now, "stepped up after replSetStepDown")
    if member.group is not None:
        member.group.poke()
    return {"ok": 1.0}


async def step_down_for_shutdown(member: Member, seconds: float) -> None:
    """What mongod does on SIGTERM before it stops (``stepDownForShutdown``): a primary of a set of more than one
    member waits up to ``seconds`` (``shutdownTimeoutMillisForSignaledShutdown``) for an electable secondary to
    catch up, steps down and lets it stand at once; with none it stops as primary, and the others elect after
    their election timeout. A set of one member does not try."""
    config = member.data.config
    if member.state is not State.PRIMARY or member.group is None or config is None or len(config.members) == 1:
        return
    try:
        target = await _wait_for_caught_up(member, seconds)
    except CommandError:
        return  # no longer primary: nothing to hand over
    if target is None:
        member.log("shutting down as primary: no electable secondary caught up within %.1f s", seconds)
        return
    now = member.services.scheduler.now()
    member.step_down(now, "shutting down (SIGTERM)", freeze_secs=24 * 3600)
    run_election(member.group, target, now, "stepped up: the primary is shutting down")
    member.group.poke()


async def _wait_for_caught_up(member: Member, seconds: float) -> Member | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if member.state is not State.PRIMARY or member.group is None:
            raise CommandError(Code.NotWritablePrimary, "not primary so can't step down")
        target = _caught_up_secondary(member)
        remaining = deadline - loop.time()
        if target is not None or remaining <= 0:
            return target
        try:
            await asyncio.wait_for(member.group.next_round(), remaining)
        except TimeoutError:
            return _caught_up_secondary(member)


def _caught_up_secondary(primary: Member) -> Member | None:
    """The highest-priority electable, reachable secondary holding every write of the primary."""
    config = primary.data.config
    assert config is not None
    best: tuple[float, Member] | None = None
    for peer_config in config.members:
        peer = primary.services.members.get(peer_config.host)
        if peer is None or peer is primary or not peer_config.electable or primary.link_error(peer) is not None:
            continue
        if peer.state is State.SECONDARY and peer.last_optime >= primary.last_optime:
            if best is None or peer_config.priority > best[0]:
                best = (peer_config.priority, peer)
    return best[1] if best else None


@command("replSetFreeze")
async def replset_freeze(ctx: CommandContext, cmd: Doc) -> Reply:
    member = ctx.member
    if member.state is State.PRIMARY:
        raise CommandError(
            Code.IllegalOperation, "cannot freeze node when primary or running for election. state: Primary"
        )
    seconds = float(cmd.get("replSetFreeze") or 0)
    member.frozen_until = ctx.now + seconds if seconds else 0.0
    return {"info": "unfreezing"} if not seconds else {"ok": 1.0}


@command("replSetStepUp")
async def replset_step_up(ctx: CommandContext, cmd: Doc) -> Reply:
    member = ctx.member
    if member.state is State.PRIMARY:
        return {"ok": 1.0}
    if member.state is not State.SECONDARY or not member.electable() or member.group is None:
        raise CommandError(
            Code.CommandFailed, f"Election failed: this member is {member.state.label} and not electable"
        )
    if not run_election(member.group, member, ctx.now, "replSetStepUp"):
        raise CommandError(Code.CommandFailed, "Election failed.")
    return {"ok": 1.0}
