"""An agent's ``/metrics`` counts its own cluster's members by state, per instance, from its reports: every
member counted once, labels bounded (no member id)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from fedstate.bus.store import Entry
from fedstate.models.dataplane import DataPlaneStatus, MemberObservation
from fedstate_agent.metrics import MEMBERS, member_samples

ROLES = st.sampled_from(["PRIMARY", "SECONDARY", "ARBITER", "STARTUP2", "UNKNOWN", "DOWN"])
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def report(key: str, roles: list[str]) -> Entry[DataPlaneStatus]:
    members = [
        MemberObservation(ordinal=i, name=f"rs-m{i}", pod_phase="Running", ready=True, role=role)
        for i, role in enumerate(roles)
    ]
    return Entry(key, 1, DataPlaneStatus(cluster="member-1", observed_at=T0, members=members))


@given(st.dictionaries(st.from_regex(r"rs[0-9]", fullmatch=True), st.lists(ROLES, max_size=7), max_size=4))
def test_every_member_is_counted_once_by_its_state(instances: dict[str, list[str]]) -> None:
    reports = [report(f"member-1.default.ns.{name}", roles) for name, roles in instances.items()]
    samples = list(member_samples(reports))
    assert {s.family for s in samples} <= {MEMBERS}
    for name, roles in instances.items():
        mine = [s for s in samples if s.labels["multicloudmongodb"] == name]
        assert {role: roles.count(role) for role in roles} == {s.labels["state"]: s.value for s in mine}
        assert all(s.labels["cluster"] == "member-1" and s.labels["namespace"] == "ns" for s in mine)
    assert all(set(s.labels) == set(MEMBERS.labels) for s in samples)
