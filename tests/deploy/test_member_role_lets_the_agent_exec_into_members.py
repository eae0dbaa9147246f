"""The member clusters' ClusterRole lets the agent bootstrap a replica set through ``pods/exec``."""

from __future__ import annotations

from tests.deploy.test_member_role_lets_the_collector_read_its_sources import granted


def test_the_agent_may_exec_over_a_websocket_on_every_kubernetes_version() -> None:
    """A WebSocket exec is authorised as get (before 1.35) and as get plus create (1.35 on): both granted."""
    assert {("", "pods/exec", "get"), ("", "pods/exec", "create")} <= granted()
