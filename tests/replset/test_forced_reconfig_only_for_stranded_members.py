"""Adopted volumes (issue 5, item 3): members that mount a deleted instance's data hold its config, which
names the old addresses, so none can be elected. Only then does a pass install the config with force."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fedstate.models.replicaset import RsConfig
from fedstate.replset import WantedMember, desired_config

from .test_lifecycle_plan_per_pass import dataplane, observed, one_pass, placement, report

LAYOUT = {"a": [0], "b": [1], "c": [2]}
# The config the old volumes hold: the same ordinals at addresses that no longer exist.
OLD = desired_config("rs", [WantedMember(o, f"127.0.9.9:{31000 + o}", True) for o in range(3)]).model_copy(
    update={"version": 7}
)
ROLES = st.sampled_from(["PRIMARY", "SECONDARY", "STARTUP2", "REMOVED", "STARTUP", "DOWN", "ARBITER"])


def pass_with(roles: dict[int, str], config: RsConfig | None = OLD) -> tuple[int | None, RsConfig | None, str]:
    """(the member to force, the config sent with it, the cluster told to do it) after one pass."""
    specs = {c: dataplane(c, ordinals, initiator=c == "a") for c, ordinals in LAYOUT.items()}
    reports = {
        c: report(c, [observed(o, roles[o]) for o in ordinals], None if roles[ordinals[0]] == "STARTUP" else config)
        for c, ordinals in LAYOUT.items()
    }
    decided = one_pass(specs, reports, placement({"a": 1, "b": 1, "c": 1}))
    forcing = [c for c in decided.clusters if c.force_on is not None]
    if not forcing:
        return None, None, ""
    (cluster,) = forcing
    return cluster.force_on, cluster.rs_config, cluster.cluster


def test_members_holding_only_old_addresses_get_the_new_ones_with_force() -> None:
    force_on, config, cluster = pass_with({0: "REMOVED", 1: "REMOVED", 2: "REMOVED"})
    assert (0, "a") == (force_on, cluster)
    assert config is not None and config.version > OLD.version
    assert {o: f"127.0.1.1:{30000 + o}" for o in range(3)} == {m.id: m.host for m in config.members}
    assert 3 == len(config.voters())


def test_the_forced_member_is_one_that_holds_a_config() -> None:
    """m0's volume was lost (it starts empty, STARTUP): m1 is forced, in its own cluster."""
    force_on, _, cluster = pass_with({0: "STARTUP", 1: "REMOVED", 2: "REMOVED"})
    assert (1, "b") == (force_on, cluster)


def test_a_set_that_can_still_elect_is_never_forced() -> None:
    """A member removed from a working set (or one whose pod is down) is a normal reconfig's business."""
    assert None is pass_with({0: "PRIMARY", 1: "SECONDARY", 2: "REMOVED"})[0]
    assert None is pass_with({0: "SECONDARY", 1: "SECONDARY", 2: "REMOVED"})[0]
    assert None is pass_with({0: "DOWN", 1: "REMOVED", 2: "REMOVED"})[0], "m0 may still be in a set"


@given(st.tuples(ROLES, ROLES, ROLES))
def test_force_only_when_every_member_is_ready_and_outside_any_set(roles: tuple[str, str, str]) -> None:
    force_on, _, _ = pass_with(dict(enumerate(roles)))
    stranded = set(roles) <= {"REMOVED", "STARTUP"} and "REMOVED" in roles
    assert stranded == (force_on is not None)
    if force_on is not None:
        assert "REMOVED" == roles[force_on]
