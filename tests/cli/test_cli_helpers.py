"""Pure pieces of the CLI: --for and --timeout parsing, ages, manifests, the simulator's ready file."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fedstate.api import CONFIGMAP, MULTICLOUD_MONGODB
from fedstate.api.views import ObjectView
from fedstate.cli import manifests
from fedstate.cli.errors import CliError
from fedstate.cli.render import age, cpu, memory
from fedstate.cli.simulator import SimOptions, launch, read_ready
from fedstate.cli.state import StackPaths
from fedstate.cli.waiting import WaitFor, parse_for, parse_timeout, wait_until

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("state=Health", WaitFor("state", "Health")),
        ("condition=ServerReady", WaitFor("condition", "ServerReady", "True")),
        ("condition=ServerReady=False", WaitFor("condition", "ServerReady", "False")),
        ("delete", WaitFor("delete")),
    ],
)
def test_wait_conditions_parse(text: str, expected: WaitFor) -> None:
    assert expected == parse_for(text)


def test_bad_wait_arguments_are_refused() -> None:
    with pytest.raises(CliError, match="expected state=STATE"):
        parse_for("ready")
    with pytest.raises(CliError, match="expected seconds"):
        parse_timeout("soon")
    assert [180.0, 180.0, 180.0] == [parse_timeout(t) for t in ("180", "180s", "3m")]


def test_wait_until_polls_with_an_injected_clock() -> None:
    ticks = iter(range(100))
    states = iter(["Creating", "Creating", "Health"])

    def read() -> ObjectView:
        return ObjectView({"apiVersion": "v", "kind": "MultiCloudMongoDB", "status": {"state": next(states)}})

    found = wait_until(read, WaitFor("state", "Health"), 10, clock=lambda: next(ticks), sleep=lambda _: None)
    assert found is not None and "Health" == (found.status or {})["state"]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(42, "42s"), (190, "3m10s"), (25 * 60, "25m"), (5 * 3600 + 180, "5h3m"), (3 * 86400 + 4 * 3600, "3d4h")],
)
def test_ages_read_like_kubectl(seconds: int, expected: str) -> None:
    assert expected == age((NOW - timedelta(seconds=seconds)).isoformat(), NOW)


def test_amounts_are_short() -> None:
    assert ["2", "1.5", "64Gi", "512Mi"] == [cpu(2000), cpu(1500), memory(64 * 1024**3), memory(512 * 1024**2)]


def test_a_multi_document_file_keeps_its_order_and_fills_the_namespace() -> None:
    text = "kind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n---\n---\nkind: MultiCloudMongoDB\nmetadata: {name: m, namespace: x}\n"
    found = manifests.parse(text, "f.yaml", namespace="team")
    assert [(CONFIGMAP, "team"), (MULTICLOUD_MONGODB, "x")] == [(m.resource, m.namespace) for m in found]


def test_a_document_without_a_name_is_refused() -> None:
    with pytest.raises(CliError, match=re.escape("f.yaml document 1: metadata.name is required")):
        manifests.parse("kind: MongoDB\nmetadata: {}\n", "f.yaml")


def test_the_simulator_ready_file_gives_control_url_and_clusters(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    document = {"controlPort": 5, "controlUrl": "http://127.0.0.1:5/", "clusters": {"member-1": "http://127.0.0.1:6"}}
    ready.write_text(json.dumps(document))
    found = read_ready(ready)
    assert ("http://127.0.0.1:5", [("member-1", "http://127.0.0.1:6")]) == (
        found.control_url,
        [(c.name, c.api_url) for c in found.clusters],
    )


def test_the_simulator_gets_timing_flags_only_when_asked(tmp_path: Path) -> None:
    paths = StackPaths(tmp_path)
    plain = launch(SimOptions(clusters=2), paths).args
    timed = launch(SimOptions(clusters=2, pod_startup_seconds=0, election_timeout_millis=2000), paths).args
    assert "--pod-startup-seconds" not in plain
    assert ["--clusters", "2", "--pod-startup-seconds", "0", "--election-timeout-millis", "2000"] == timed[3:9]


def test_a_status_of_an_older_generation_does_not_count() -> None:
    """After a scale, Health of generation 1 says nothing about generation 2."""
    stale = ObjectView(
        {
            "apiVersion": "v",
            "kind": "MultiCloudMongoDB",
            "metadata": {"generation": 2},
            "status": {"state": "Health", "observedGeneration": 1},
        }
    )
    caught_up = ObjectView({**stale.wire, "status": {"state": "Health", "observedGeneration": 2}})
    assert (False, True) == (WaitFor("state", "Health").met(stale), WaitFor("state", "Health").met(caught_up))
