"""A member cluster's or a tenant's name becomes one token of its bus user's subjects: a name that is not a
DNS-1123 label (``*``, ``a.b``, ``>``) would grant other clusters' keys, so it makes no user and no service starts
with it."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fedstate.bus.identities import Component, Identity
from fedstate.settings import AgentSettings, load_settings
from tests.dns_labels import BAD_NAMES, is_label

names = st.text(alphabet="ab09-._A *>\nü", max_size=66) | st.from_regex(
    r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True
)


def makes_a_user(cluster: str = "member-1", tenant: str = "default") -> bool:
    try:
        Identity(Component.AGENT, cluster, tenant)
    except ValueError:
        return False
    return True


@given(names)
@example("*")
@example(">")
@example("member-1.member-2")
def test_a_cluster_or_tenant_makes_a_user_exactly_when_it_is_a_label(name: str) -> None:
    assert is_label(name) == makes_a_user(cluster=name) == makes_a_user(tenant=name)


# A setting's surrounding whitespace is stripped before it is checked ("member-1\n" is member-1).
@pytest.mark.parametrize("name", [name for name in [*BAD_NAMES, "*", ">", "a.*"] if name == name.strip()])
def test_a_member_service_refuses_to_start_for_such_a_cluster(name: str) -> None:
    """Named by the flag, the variable or among the clusters it hosts: one line naming the setting, exit 1."""
    for argv, setting in [
        ([f"--cluster={name}"], "FEDSTATE_CLUSTER (--cluster)"),
        (["--cluster=member-1", f"--hosted-clusters={json.dumps([name])}"], "FEDSTATE_HOSTED_CLUSTERS"),
        (["--cluster=member-1", f"--tenant={name}"], "FEDSTATE_TENANT (--tenant)"),
    ]:
        with pytest.raises(SystemExit) as stopped:
            load_settings(AgentSettings, argv)
        assert str(stopped.value).startswith(f"error: invalid setting {setting}"), argv
