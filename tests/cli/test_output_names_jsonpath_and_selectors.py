"""``get -o name``, ``-o jsonpath=...`` and ``-l SELECTOR`` behave as kubectl's; the gateway filters by label."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import yaml
from served_gateway import ServedGateway

from fedstate.api import MULTICLOUD_MONGODB


def labelled(name: str, replicas: int = 3, **labels: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "middleware.fedstate.io/v1alpha1",
            "kind": "MultiCloudMongoDB",
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicaset": replicas},
        }
    )


def test_o_name_prints_kind_group_and_name(cli: Callable[..., Any], name: str) -> None:
    cli("apply", "-f", "-", input=labelled(name))
    assert f"multicloudmongodb.middleware.fedstate.io/{name}\n" == cli("get", "mcm", name, "-o", "name").stdout
    assert f"multicloudmongodb.middleware.fedstate.io/{name}" in cli("get", "mcms", "-o", "name").stdout.splitlines()


def test_o_jsonpath_prints_the_selected_fields(cli: Callable[..., Any], name: str) -> None:
    cli("apply", "-f", "-", input=labelled(name, 5, team=name))
    assert "5" == cli("get", "mcm", name, "-o", "jsonpath={.spec.replicaset}").stdout
    template = '{range .items[*]}{.metadata.name}={.spec.replicaset}{"\\n"}{end}'
    assert f"{name}=5\n" == cli("get", "mcm", "-l", f"team={name}", "-o", f"jsonpath={template}").stdout


def test_selectors_filter_with_equality_and_sets(cli: Callable[..., Any], name: str) -> None:
    for suffix, tier in (("db", "db"), ("cache", "cache"), ("web", "web")):
        cli("apply", "-f", "-", input=labelled(f"{name}-{suffix}", team=name, tier=tier))

    def names(selector: str) -> list[str]:
        result = cli("get", "mcm", "-l", selector, "-o", "name")
        assert 0 == result.exit_code, result.output
        return sorted(line.rsplit("/", 1)[1] for line in result.stdout.splitlines())

    assert [f"{name}-db"] == names(f"team={name},tier=db")
    assert [f"{name}-cache", f"{name}-web"] == names(f"team={name},tier!=db")
    assert [f"{name}-cache", f"{name}-db"] == names(f"team={name},tier in (db,cache)")
    assert [f"{name}-web"] == names(f"team={name},tier notin (db,cache)")
    assert [] == names(f"team={name},!tier")
    empty = cli("get", "mcm", "-l", f"team={name},tier=none")
    assert ("", "No resources found in default namespace.\n") == (empty.stdout, empty.stderr)


def test_the_gateway_filters_by_label_selector(served: ServedGateway, cli: Callable[..., Any], name: str) -> None:
    cli("apply", "-f", "-", input=labelled(f"{name}-a", team=name, tier="db"))
    cli("apply", "-f", "-", input=labelled(f"{name}-b", team=name, tier="web"))
    query = f"?labelSelector=team%3D{name},tier%20in%20(db)"
    listed = urllib.request.Request(
        served.url + MULTICLOUD_MONGODB.all_namespaces_path() + query, headers=served.headers
    )
    with urllib.request.urlopen(listed) as response:
        listing = json.load(response)
    assert [f"{name}-a"] == [item["metadata"]["name"] for item in listing["items"]]


def test_a_bad_selector_or_output_is_refused(cli: Callable[..., Any], name: str) -> None:
    bad = cli("get", "mcm", "-l", "tier in db")
    assert 1 == bad.exit_code
    assert bad.stderr.startswith("Error from server (BadRequest): unable to parse requirement 'tier in db'")
    assert "name cannot be provided when a selector is specified" in cli("get", "mcm", name, "-l", "a=b").stderr
    unknown = cli("get", "mcm", "-o", "xml")
    assert (1, True) == (
        unknown.exit_code,
        "unable to match a printer suitable for the output format 'xml'" in unknown.stderr,
    )
