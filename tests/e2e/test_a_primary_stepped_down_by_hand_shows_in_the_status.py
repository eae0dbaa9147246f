"""A primary stepped down by hand (``replSetStepDown``, as an operator would) shows in the status within seconds:
the agents learn it from their members' watches, although their safety passes of the steady set are answered from
memory (a pass that read only memory and changed nothing is remembered until one of its inputs moves). Its own
stack resyncs every 3 s, so those passes happen before the step-down."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import AutoReconnect

from fedstate.cli.localstack import LocalStack

from .invariants import apply, wait_settled, wait_until
from .state_log import running

PASSWORD = "stepdown-pass"
RESYNC_SECONDS = 3


@pytest.fixture(scope="module")
def resyncing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running(tmp_path_factory.mktemp("resyncing"), env={"FEDSTATE_RESYNC_SECONDS": str(RESYNC_SECONDS)}) as local:
        yield local


def primaries(status: dict[str, Any]) -> list[str]:
    """The members the status names PRIMARY, in any cluster."""
    return [
        address
        for cluster in status.get("result") or []
        for address, role in (cluster.get("connectAddrWithRole") or {}).items()
        if role == "PRIMARY"
    ]


def test_a_primary_stepped_down_by_hand_shows_in_the_status(resyncing: LocalStack) -> None:
    stack, name = resyncing, "stepped-down"
    apply(stack, name, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}}}")
    [before] = primaries(wait_settled(stack, name))
    time.sleep(4 * RESYNC_SECONDS)  # safety passes that found nothing: the next ones are answered from memory
    uri = f"mongodb://root:{PASSWORD}@{before}/?directConnection=true&authSource=admin"
    with MongoClient(uri, serverSelectionTimeoutMS=20_000) as primary, contextlib.suppress(AutoReconnect):
        primary.admin.command("replSetStepDown", 60)  # it drops its connections as it steps down

    # Each cluster's agent tells of its own members: for a moment the status may name the new primary and still
    # the old one. Wait for the old one to be gone and another named.
    wait_until(lambda: before not in (now := primaries(stack.status(name))) and now != [], "a new primary", 60)
    assert 1 == len(primaries(stack.status(name)))
