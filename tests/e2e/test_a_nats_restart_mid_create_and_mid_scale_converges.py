"""NATS restarts (issue 12, item 2): the bus goes away in the middle of a create and in the middle of a scale
(SIGKILL, no drain) and comes back on its port with its file store; every service reconnects, picks its watches
up where they were, and the operation in flight completes, with every acknowledged majority write kept and
no service restarted."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import load_state
from fedstate.cli.state import pid_alive

from .invariants import Ledger, apply, check, replica_set, uri_for, wait_settled, wait_until
from .state_log import running

NAME = "bounced"
PASSWORD = "bounce-pass"
DOWN_SECONDS = 2.0


@pytest.fixture(scope="module")
def bounced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running(tmp_path_factory.mktemp("bounced")) as local:
        yield local


def restart_nats(stack: LocalStack) -> None:
    stack.kill("nats-server")
    time.sleep(DOWN_SECONDS)
    stack.restart("nats-server")


def services_dead(stack: LocalStack) -> list[str]:
    state = load_state(stack.paths)
    assert state is not None
    return [p.name for p in state.processes if not pid_alive(p.pid, p.start_ticks)]


def test_a_create_and_a_scale_in_flight_complete_across_nats_restarts(bounced: LocalStack) -> None:
    apply(bounced, NAME, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}}}")
    wait_until(lambda: bool(bounced.status(NAME).get("result")), "the instance's first status", timeout=60)
    assert "Health" != bounced.status(NAME).get("state")  # mid-create: placed, members being made
    restart_nats(bounced)
    status = wait_settled(bounced, NAME, timeout=180)
    ledger = Ledger(uri_for(status, NAME, PASSWORD))
    ledger.write()
    check(bounced, NAME, ledger)

    bounced.cli("scale", "mcm", NAME, "--replicas", "5")
    rs_config = replica_set(ledger.uri)[1]
    assert sum(1 for m in rs_config["members"] if m.get("votes", 1)) < 5  # mid-scale: not every new member votes
    restart_nats(bounced)
    wait_settled(bounced, NAME, timeout=180)
    ledger.write()
    rs_config = check(bounced, NAME, ledger)
    assert 5 == len(rs_config["members"])
    assert [] == services_dead(bounced), "a service died with the bus instead of waiting for it"
