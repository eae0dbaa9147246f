"""A revision change restarts members one at a time: secondaries first, the primary stepped down last."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from fedstate.replset import RollMember, next_restart


def roll(members: list[RollMember]) -> list[str]:
    """Drive the planner like the agents would; return what happened, checking the rules on every step."""
    history: list[str] = []
    for _ in range(100):
        step = next_restart(members)
        if step.done:
            return history
        down = [m for m in members if not m.healthy]
        assert len([m for m in down if m.voting]) <= 1, "never more than one voting member down"
        if step.step_down is not None:
            primary = step.step_down
            assert all(m.running == m.wanted for m in members if m is not primary), "the primary goes last"
            successor = next(m for m in members if m is not primary and m.voting and m.state == "SECONDARY")
            members = [
                replace(m, state="SECONDARY" if m is primary else "PRIMARY" if m is successor else m.state)
                for m in members
            ]
            history.append(f"stepdown m{primary.ordinal}")
        elif step.restart is not None:
            target = step.restart
            assert not down, "a restart only starts while every member is healthy"
            assert target.state != "PRIMARY" or not any(
                m.voting and m.electable and m.state == "SECONDARY" for m in members if m is not target
            )
            members = [replace(m, running=m.wanted, state="STARTUP2") if m is target else m for m in members]
            history.append(f"restart m{target.ordinal}")
        else:
            # The restarted member finishes starting and is SECONDARY again.
            assert down, f"waiting with nothing to wait for: {step.action}"
            members = [replace(m, state="SECONDARY") if not m.healthy else m for m in members]
    raise AssertionError(f"no convergence: {history}")


@st.composite
def sets(draw: st.DrawFn) -> list[RollMember]:
    size = draw(st.integers(1, 9))
    primary = draw(st.integers(0, size - 1))
    outdated = draw(st.sets(st.integers(0, size - 1)))
    return [
        RollMember(
            ordinal=o,
            cluster=f"member-{o % 3 + 1}",
            state="PRIMARY" if o == primary else "SECONDARY",
            ready=True,
            running="old" if o in outdated else "new",
            wanted="new",
            voting=o < 7 or o == primary,
        )
        for o in range(size)
    ]


@settings(max_examples=300, deadline=None)
@given(sets())
def test_every_member_ends_on_the_new_revision_under_the_rules(members: list[RollMember]) -> None:
    history = roll(members)
    assert len([h for h in history if h.startswith("restart")]) == sum(1 for m in members if m.running != m.wanted)


def test_five_members_roll_secondaries_by_cluster_then_the_stepped_down_primary() -> None:
    members = [
        RollMember(o, f"member-{o // 2 + 1}", "PRIMARY" if o == 1 else "SECONDARY", True, "old", "new")
        for o in range(5)
    ]
    assert ["restart m0", "restart m2", "restart m3", "restart m4", "stepdown m1", "restart m1"] == roll(members)


def test_a_member_down_for_another_reason_holds_the_roll() -> None:
    members = [
        RollMember(0, "a", "PRIMARY", True, "old", "new"),
        RollMember(1, "b", "(not reachable/healthy)", False, "old", "new"),
        RollMember(2, "c", "SECONDARY", True, "old", "new"),
    ]
    step = next_restart(members)
    assert (None, None) == (step.restart, step.step_down)
    assert "m1 (b)" in step.action


def test_a_single_member_set_restarts_its_primary_without_a_step_down() -> None:
    step = next_restart([RollMember(0, "a", "PRIMARY", True, "old", "new")])
    assert step.restart is not None and step.step_down is None
