"""``fedstate events`` merges repeats as kubectl does, keeps every column whatever a message's length (so
``events | grep`` finds it), and answers NotFound for a name that has neither object nor events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from served_gateway import ServedGateway

from fedstate.bus import events
from fedstate.bus.names import InstanceKey, Kind

LONG = "members of member-1 moved to member-2 and member-3 after the cluster was silent for 60s; " * 3


def emit(served: ServedGateway, name: str, reason: str, message: str, times: int = 1) -> None:
    key = InstanceKey(served.tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    for _ in range(times):
        served.run(events.emit(served.bus.js, key, reason=reason, message=message, component="scheduler"))


def test_repeated_events_are_one_row_with_a_count(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    emit(served, name, "Elected", "member-2 holds the primary", times=5)
    emit(served, name, "Scaled", "3 -> 5 members")
    rows = cli("events", name).stdout.splitlines()[1:]
    assert 2 == len(rows)
    elected = next(r for r in rows if "Elected" in r)
    assert "(x5 over " in elected and elected.endswith("member-2 holds the primary")


def test_a_long_message_keeps_every_column_when_piped(
    cli: Callable[..., Any], served: ServedGateway, name: str
) -> None:
    emit(served, name, "Failover", LONG.strip())
    emit(served, name, "Elected", "member-3 holds the primary")
    lines = cli("events", "-A").stdout.splitlines()
    failover = [line for line in lines if "Failover" in line and name in line]
    assert 1 == len(failover)
    assert ["Normal", "Failover", f"{served.tenant}/default/{name}", "scheduler"] == failover[0].split()[1:5]
    assert failover[0].endswith(LONG.strip())
    elected = next(line for line in lines if "member-3 holds the primary" in line and name in line)
    assert ["Normal", "Elected", f"{served.tenant}/default/{name}", "scheduler"] == elected.split()[1:5]


def test_events_of_a_missing_object_are_not_found(cli: Callable[..., Any], name: str) -> None:
    result = cli("events", name)
    assert (1, "") == (result.exit_code, result.stdout)
    assert f'Error from server (NotFound): multicloudmongodbs.middleware.fedstate.io "{name}" not found\n' == (
        result.stderr
    )


def test_a_namespace_without_events_says_so(cli: Callable[..., Any], name: str) -> None:
    result = cli("events", "-n", name)
    assert (0, "", f"No events found in {name} namespace.\n") == (result.exit_code, result.stdout, result.stderr)


def test_describe_shows_merged_events(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    body = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB", "metadata": {"name": name}}
    cli("apply", "-f", "-", input=yaml.safe_dump({**body, "spec": {"replicaset": 3}}))
    emit(served, name, "Unschedulable", "0/3 clusters are available: 3 insufficient memory", times=4)
    lines = cli("describe", "mcm", name).stdout.splitlines()
    events_at = lines.index("Events:")
    assert ["TYPE", "REASON", "AGE", "FROM", "MESSAGE"] == lines[events_at + 1].split()
    unschedulable = [line for line in lines[events_at + 2 :] if "Unschedulable" in line]
    assert 1 == len(unschedulable)
    assert "(x4 over " in unschedulable[0]
