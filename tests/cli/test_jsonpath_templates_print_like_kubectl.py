"""``-o jsonpath=TEMPLATE`` prints what kubectl prints for the same template and document."""

from __future__ import annotations

from typing import Any

import pytest

from fedstate.cli.errors import CliError
from fedstate.cli.jsonpath import render

LISTING: dict[str, Any] = {
    "kind": "MultiCloudMongoDBList",
    "items": [
        {
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "mongo"}},
            "spec": {"replicaset": 3},
            "status": {"state": "Health", "conditions": [{"type": "ServerReady", "status": "True"}]},
        },
        {"metadata": {"name": "b"}, "spec": {"replicaset": 5}, "status": {"state": "Creating"}},
    ],
}


@pytest.mark.parametrize(
    ("template", "printed"),
    [
        ("{.items[*].metadata.name}", "a b"),
        ("{.items[0].spec.replicaset}", "3"),
        ('{range .items[*]}{.metadata.name}{"\\t"}{.status.state}{"\\n"}{end}', "a\tHealth\nb\tCreating\n"),
        ("{range .items[*]}{.metadata.name},{end}", "a,b,"),
        ('{.items[0].status.conditions[?(@.type=="ServerReady")].status}', "True"),
        ("{.items[0].metadata.labels.app\\.kubernetes\\.io/name}", "mongo"),
        ("{.items[-1:].metadata.name}", "b"),
        ("{.items[1].metadata}", '{"name":"b"}'),
        ("names: {.items[*].metadata.name}!", "names: a b!"),
        ("{.items[0].nothing}", ""),
        ("{.kind}", "MultiCloudMongoDBList"),
        ("{$.kind}", "MultiCloudMongoDBList"),
    ],
)
def test_templates_print_as_kubectl_prints(template: str, printed: str) -> None:
    assert printed == render(template, LISTING)


@pytest.mark.parametrize(
    ("template", "problem"),
    [("{.items[", "unclosed action"), ("{range .items[*]}{.a}", "without {end}"), ("{end}", "without {range}")],
)
def test_a_broken_template_is_an_error_naming_it(template: str, problem: str) -> None:
    with pytest.raises(CliError, match="error parsing jsonpath") as raised:
        render(template, LISTING)
    assert problem in raised.value.message
