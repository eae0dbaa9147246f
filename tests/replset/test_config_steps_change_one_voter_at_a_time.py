"""From any replica-set config to any other, the planned reconfigs follow MongoDB's rules at every step."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from fedstate.models.replicaset import RsConfig
from fedstate.replset import WantedMember, desired_config, next_config, plan_config_step, remaining_changes
from fedstate.replset.configsteps import in_sync


def host(ordinal: int) -> str:
    return f"127.0.{ordinal % 3 + 1}.1:{30000 + ordinal}"


def config(voting: dict[int, bool], arbiter: int | None = None, version: int = 1) -> RsConfig:
    members = [WantedMember(o, host(o), v) for o, v in voting.items()]
    if arbiter is not None:
        members.append(WantedMember(arbiter, host(arbiter), True, arbiter=True))
    return desired_config("rs", members, version)


def voters(cfg: RsConfig) -> set[int]:
    return {m.id for m in cfg.members if m.votes}


@dataclass
class World:
    """A tiny model of a replica set that obeys the planner: added members sync, step-downs elect another."""

    current: RsConfig
    states: dict[int, str]
    log: list[str] = field(default_factory=list)

    def tick(self) -> bool:
        changed = False
        for ordinal, state in list(self.states.items()):
            if state == "STARTUP2":
                self.states[ordinal] = "SECONDARY"
                changed = True
            if state == "STARTUP" and any(m.id == ordinal and m.arbiter_only for m in self.current.members):
                self.states[ordinal] = "ARBITER"
                changed = True
        return changed

    def install(self, new: RsConfig) -> None:
        before = {m.id for m in self.current.members}
        for member in new.members:
            if member.id not in before and not member.arbiter_only:
                self.states[member.id] = "STARTUP2"
        for gone in before - {m.id for m in new.members}:
            self.states.pop(gone, None)
        self.current = new

    def step_down(self, primary: int) -> None:
        self.states[primary] = "SECONDARY"
        electable = [m.id for m in self.current.members if m.id != primary and m.votes and m.priority > 0]
        successor = next(o for o in sorted(electable) if self.states.get(o) == "SECONDARY")
        self.states[successor] = "PRIMARY"


def check_step(old: RsConfig, new: RsConfig, states: dict[int, str]) -> None:
    old_members = {m.id: m for m in old.members}
    assert new.version == old.version + 1
    assert len(voters(old) ^ voters(new)) <= 1, "a normal reconfig changes at most one voter"
    assert len(voters(new)) <= 7
    for member in new.members:
        assert member.priority == 0 or member.votes == 1, "priority > 0 needs a vote"
        assert not member.arbiter_only or member.priority == 0
        if member.id not in old_members and not member.arbiter_only:
            assert (0, 0) == (member.votes, member.priority), "new members join as votes 0 / priority 0"
    for promoted in voters(new) - voters(old):
        member = next(m for m in new.members if m.id == promoted)
        assert member.arbiter_only or states[promoted] == "SECONDARY", "only a SECONDARY is given a vote"
    primary = next(o for o, s in states.items() if s == "PRIMARY")
    kept = next((m for m in new.members if m.id == primary), None)
    assert kept is not None and kept.votes == 1 and kept.priority > 0, "the primary is stepped down first"


def converge(world: World, desired: RsConfig) -> World:
    for _ in range(200):
        step = plan_config_step(world.current, desired, world.states)
        if step.done:
            return world
        if step.config is not None:
            check_step(world.current, step.config, world.states)
            world.install(step.config)
        elif step.step_down is not None:
            world.step_down(step.step_down)
        else:
            assert world.tick(), f"stuck: {step.action}"
        world.log.append(step.action)
    raise AssertionError(f"did not converge: {world.log}")


@st.composite
def transitions(draw: st.DrawFn) -> tuple[World, RsConfig]:
    size = draw(st.integers(1, 9))
    start = config({o: o < 7 for o in range(size)})
    primary = draw(st.sampled_from(sorted(voters(start))))
    states = {m.id: "PRIMARY" if m.id == primary else "SECONDARY" for m in start.members}
    kept = draw(st.lists(st.sampled_from(range(size)), unique=True, max_size=size))
    new = list(range(size, size + draw(st.integers(0 if kept else 1, 6))))
    wanted = sorted(kept + new)
    votes = draw(st.lists(st.booleans(), min_size=len(wanted), max_size=len(wanted)))
    voting = dict(zip(wanted, votes, strict=True))
    voting[draw(st.sampled_from(wanted))] = True
    arbiter = size + 10 if draw(st.booleans()) and sum(voting.values()) < 7 else None
    if arbiter is not None:
        states[arbiter] = "STARTUP"
    return World(start, states), config(voting, arbiter)


@settings(max_examples=300, deadline=None)
@given(transitions())
def test_any_change_converges_one_voter_per_reconfig_with_the_primary_stepped_down_first(
    case: tuple[World, RsConfig],
) -> None:
    world, desired = case
    converged = converge(world, desired)
    assert in_sync(converged.current, desired)
    assert 1 == list(converged.states.values()).count("PRIMARY")


def test_scaling_three_to_five_adds_two_non_voters_then_promotes_each_once_secondary() -> None:
    """3 → 5: one reconfig adds m3 and m4 with votes 0, then one promotion per reconfig."""
    world = World(config({0: True, 1: True, 2: True}), {0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY"})
    desired = config({o: True for o in range(5)})
    assert "add m3, m4; give a vote to m3, m4" == remaining_changes(world.current, desired)
    converge(world, desired)
    assert [
        "add m3, m4 as non-voting",
        "waiting for m3 to be SECONDARY (now STARTUP2) before it votes",
        "promote m3 as voter",
        "promote m4 as voter",
    ] == world.log


def test_scaling_past_seven_keeps_seven_voters() -> None:
    """Nine members: the eighth and ninth stay votes 0 / priority 0."""
    desired = config({o: True for o in range(9)})
    assert 7 == len(voters(desired))
    assert {7, 8} == {m.id for m in desired.members if m.votes == 0 and m.priority == 0}


def test_removing_the_primary_steps_it_down_before_the_reconfig() -> None:
    world = World(config({0: True, 1: True, 2: True}), {0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY"})
    desired = config({1: True, 2: True})
    step = plan_config_step(world.current, desired, world.states)
    assert (None, 0) == (step.config, step.step_down)
    assert next_config(world.current, desired, world.states) is None


def test_no_step_would_leave_the_healthy_voters_without_a_majority() -> None:
    """With m1 down, removing the healthy m2 of three voters would leave one healthy voter of two: wait."""
    states = {0: "PRIMARY", 1: "(not reachable/healthy)", 2: "SECONDARY"}
    step = plan_config_step(config({0: True, 1: True, 2: True}), config({0: True, 1: True}), states)
    assert step.waiting and "majority" in step.action


def test_nothing_happens_without_a_primary() -> None:
    states = {0: "SECONDARY", 1: "SECONDARY", 2: "SECONDARY"}
    step = plan_config_step(config({0: True, 1: True, 2: True}), config({0: True, 1: True}), states)
    assert step.waiting and "PRIMARY" in step.action
