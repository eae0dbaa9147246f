"""``describe mongodb`` shows what ``describe mcm`` shows (spec, status, conditions, members, events), not a
YAML dump; ``describe configmap`` shows its data as kubectl does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from served_gateway import ServedGateway

from fedstate.bus import events
from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import StatusRecord
from fedstate.models.base import Condition
from fedstate.models.mongodb import CurrentInfo, DataPlaneState, MongoDBStatus, ReplsetMember


def running(served: ServedGateway, name: str) -> None:
    """The status the agent of member-2 would write for a 3-member replica set."""
    members = [
        ReplsetMember.model_validate(
            {"_id": i, "name": f"127.0.2.1:3000{i}", "health": 1, "state": 1 if i == 0 else 2}
            | {"stateStr": "PRIMARY" if i == 0 else "SECONDARY", "syncSourceHost": "" if i == 0 else "127.0.2.1:30000"}
        )
        for i in range(3)
    ]
    status = MongoDBStatus(
        conditions=[Condition(type="rsInit", status="True", reason="Initiated", message="replSetInitiate done")],
        current_info=CurrentInfo(members=3),
        current_revision="abc123",
        replset=members,
        state=DataPlaneState.RUNNING,
    )
    key = InstanceKey(served.tenant, "default", Kind.MONGODB, name)
    served.run(served.bus.status.put(key.status_key, StatusRecord(kind="MongoDB", mongodb=status)))
    served.run(events.emit(served.bus.js, key, reason="Initiated", message="replica set initiated", component="agent"))


def test_describe_mongodb_shows_members_conditions_and_events(
    cli: Callable[..., Any], served: ServedGateway, name: str
) -> None:
    body = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MongoDB", "metadata": {"name": name}}
    cli("apply", "-f", "-", "--cluster", "member-2", input=yaml.safe_dump({**body, "spec": {"members": 3}}))
    running(served, name)
    result = cli("describe", "mdb", name)
    assert 0 == result.exit_code, result.output
    text = " ".join(result.stdout.split())
    for expected in (
        f"Name: {name}",
        "Members: 3",
        "State: Running",
        "Cluster: member-2",
        "Ready members: 3",
        "Current revision: abc123",
        "Primary: 127.0.2.1:30000@member-2",
        "rsInit True Initiated",
        "ID MEMBER STATE HEALTH SYNC SOURCE",
        "1 127.0.2.1:30001 SECONDARY 1 127.0.2.1:30000",
        "replica set initiated",
    ):
        assert expected in text, expected
    assert "apiVersion:" not in result.stdout


def test_describe_configmap_shows_its_data(cli: Callable[..., Any], name: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"mongod.conf": "a: 1\n"}}
    cli("apply", "-f", "-", input=yaml.safe_dump(body))
    lines = cli("describe", "cm", name).stdout.splitlines()
    assert ["Data", "====", "mongod.conf:", "----", "a: 1"] == lines[3:8]
