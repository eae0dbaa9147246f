"""``fedstate recover mcm NAME --force`` (issue 12, item 5) goes through the gateway's
``POST …/multicloudmongodbs/NAME/recover`` to the intake: refused without --force and while a majority is
reachable, each with a clear error and a non-zero exit; recorded once the instance shows QuorumLost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from served_gateway import ServedGateway
from test_wait_scale_delete import manifest

from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import StatusRecord
from fedstate.models.base import Condition
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus


def lose_quorum(served: ServedGateway, name: str) -> None:
    lost = Condition(
        type="QuorumLost",
        status="True",
        reason="MajorityUnreachable",
        message="1 of 3 voters reachable, a majority needs 2",
        last_transition_time=datetime(2026, 12, 4, tzinfo=UTC),
    )
    status = MultiCloudMongoDBStatus(state=InstanceState.UN_HEALTH, observed_generation=1, conditions=[lost])
    key = InstanceKey(served.tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    served.run(served.bus.status.put(key.status_key, StatusRecord(kind="MultiCloudMongoDB", multicloud=status)))


def recovery_of(served: ServedGateway, name: str) -> object:
    key = InstanceKey(served.tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    entry = served.run(served.bus.spec.get(key.spec_key))
    return entry.value.recovery if entry is not None else None


def test_recover_is_refused_while_a_majority_is_reachable(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:  # fmt: skip
    cli("apply", "-f", "-", input=manifest(name))
    result = cli("recover", "mcm", name, "--force")
    assert 1 == result.exit_code
    assert "does not need a forced recovery" in result.stderr and "could roll back acknowledged writes" in result.stderr
    assert recovery_of(served, name) is None


def test_recover_without_force_is_refused_then_with_force_recorded(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:  # fmt: skip
    cli("apply", "-f", "-", input=manifest(name))
    lose_quorum(served, name)
    refused = cli("recover", "mcm", name)
    assert 1 == refused.exit_code and "force: must be true (fedstate recover --force)" in refused.stderr
    assert recovery_of(served, name) is None
    done = cli("recover", "mcm", name, "--force")
    assert 0 == done.exit_code, done.stderr
    assert "recovery requested" in done.stdout and "writes not replicated to the survivors are lost" in done.stdout
    assert recovery_of(served, name) is not None


def test_only_a_multicloud_instance_is_recoverable(cli: Callable[..., Any], name: str) -> None:
    result = cli("recover", "cm", name, "--force")
    assert 1 == result.exit_code and "only a MultiCloudMongoDB" in result.stderr
