"""The member clusters' ClusterRole lets the collector list and watch everything it reads, labels included."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fedstate_collector.properties import GROUP, PLURAL

MEMBER = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "member-cluster.yaml"


def granted() -> set[tuple[str, str, str]]:
    role = next(d for d in yaml.safe_load_all(MEMBER.read_text()) if d and d["kind"] == "ClusterRole")
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize(
    ("group", "resource"),
    [
        ("", "nodes"),
        ("", "pods"),
        ("", "services"),
        ("", "resourcequotas"),
        ("", "limitranges"),
        ("storage.k8s.io", "storageclasses"),
        (GROUP, PLURAL),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    ],
)
def test_the_collector_may_list_and_watch(group: str, resource: str) -> None:
    """Each kind the collector follows (ClusterProperty for the cluster labels, and its CRD to know whether and in
    which version that API is served; ResourceQuotas for what each namespace may still run) is granted list and
    watch."""
    assert {(group, resource, "list"), (group, resource, "watch")} <= granted()
