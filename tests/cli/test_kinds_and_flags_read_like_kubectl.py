"""A kind answers to every name kubectl would accept for it (singular, plural, short, with the group), from
one table; boolean flags take kubectl's ``--flag=false``."""

from __future__ import annotations

import pytest
import typer.main

from fedstate.api import CONFIGMAP, MONGODB, MULTICLOUD_MONGODB, RESOURCES, Resource, lookup
from fedstate.api.views import ObjectView
from fedstate.cli.flags import boolean_flags, rewrite
from fedstate.cli.main import app
from fedstate.cli.waiting import WaitFor


@pytest.mark.parametrize(
    ("typed", "resource"),
    [
        *(
            (n, MULTICLOUD_MONGODB)
            for n in ("mcm", "mcms", "multicloudmongodb", "multicloudmongodbs", "MultiCloudMongoDB")
        ),
        *((n, MONGODB) for n in ("mongodb", "mongodbs", "mdb", "mdbs", "MongoDB")),
        *((n, CONFIGMAP) for n in ("configmap", "configmaps", "cm", "cms")),
        ("multicloudmongodbs.middleware.fedstate.io", MULTICLOUD_MONGODB),
        ("mongodb.middleware.fedstate.io", MONGODB),
    ],
)
def test_every_kubectl_name_finds_its_kind(typed: str, resource: Resource) -> None:
    assert resource is lookup(typed)


def test_no_name_is_claimed_twice_and_a_wrong_group_is_no_match() -> None:
    names = [n for r in RESOURCES for n in r.names]
    assert len(names) == len(set(names))
    with pytest.raises(KeyError):
        lookup("mcm.apps")


FLAGS = {"--wait": ("--wait", "--no-wait"), "--ignore-not-found": ("--ignore-not-found", None)}


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        (["x", "--wait=false"], ["x", "--no-wait"]),
        (["x", "--wait=TRUE"], ["x", "--wait"]),
        (["--wait=0", "x"], ["--no-wait", "x"]),
        (["x", "--ignore-not-found=true"], ["x", "--ignore-not-found"]),
        (["x", "--ignore-not-found=false"], ["x"]),
        (["x", "--wait=maybe"], ["x", "--wait=maybe"]),
        (["x", "--", "--wait=false"], ["x", "--", "--wait=false"]),
    ],
)
def test_boolean_flags_take_kubectl_values(typed: list[str], parsed: list[str]) -> None:
    assert parsed == rewrite(typed, FLAGS)


def test_the_boolean_flags_of_delete_are_found() -> None:
    delete = typer.main.get_command(app).commands["delete"]  # type: ignore[attr-defined]
    assert FLAGS.items() <= boolean_flags(delete.params).items()


def test_wait_for_a_state_ignores_case() -> None:
    healthy = ObjectView({"apiVersion": "v", "kind": "MultiCloudMongoDB", "status": {"state": "Health"}})
    ready = ObjectView(
        {
            "apiVersion": "v",
            "kind": "MultiCloudMongoDB",
            "status": {"conditions": [{"type": "ServerReady", "status": "True"}]},
        }
    )
    assert WaitFor("state", "health").met(healthy) and WaitFor("state", "HEALTH").met(healthy)
    assert not WaitFor("state", "healthy").met(healthy)
    assert WaitFor("condition", "serverready", "true").met(ready)
