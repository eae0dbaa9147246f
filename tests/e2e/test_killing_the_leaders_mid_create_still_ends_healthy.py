"""Two replicas of every central service (issue 12, item 3; decision 0013): ``fedstate up --replicas 2``. The
leading scheduler and the leading federation are killed (SIGKILL, their leases never released) in the middle of
a create; the other replicas take over and the instance still becomes Health, with every invariant holding."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fedstate.bus.connection import connect
from fedstate.bus.names import Elected, leader_key
from fedstate.cli.client import stack_gateway
from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import load_state
from fedstate.models.lease import LeaderLease

from .invariants import Ledger, apply, check, uri_for, wait_settled, wait_until
from .state_log import running

NAME = "replicated"
PASSWORD = "replicated-pass"
# A takeover within 4 + 2 * 0.5 = 5 s of a crash (the defaults: 19 s).
FAST_LEASES = {
    "FEDSTATE_LEADER_LEASE_SECONDS": "4",
    "FEDSTATE_LEADER_RENEW_DEADLINE_SECONDS": "3",
    "FEDSTATE_LEADER_RETRY_SECONDS": "0.5",
}


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running(tmp_path_factory.mktemp("replicated"), env=FAST_LEASES, replicas=2) as local:
        yield local


def lease(stack: LocalStack, service: Elected) -> LeaderLease | None:
    async def read() -> LeaderLease | None:
        admin, access = stack.admin_access()
        bus = await connect(stack.nats_url, name="test-leases", identity=admin, access=access)
        try:
            entry = await bus.leaders.get(leader_key(service))
            return entry.value if entry else None
        finally:
            await bus.close()

    return asyncio.run(read())


def leader(stack: LocalStack, service: Elected) -> str | None:
    """The process of the stack holding ``service``'s lease: the stack names each replica after its process
    (``FEDSTATE_REPLICA_NAME``), so a restarted one takes its own lease back at once."""
    held = lease(stack, service)
    state = load_state(stack.paths)
    assert state is not None
    if held is None:
        return None
    return next((p.name for p in state.processes if p.name == held.holder), None)


def leader_gauge(stack: LocalStack, process: str, service: Elected) -> float | None:
    state = load_state(stack.paths)
    assert state is not None
    url = next(p.metrics_url for p in state.processes if p.name == process)
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "fedstate_leader" and sample.labels.get("service") == service:
                return sample.value
    return None


def test_the_second_gateway_serves_the_same_api(replicated: LocalStack) -> None:
    state = load_state(replicated.paths)
    assert state is not None
    second = next(p for p in state.processes if p.name == "gateway-2")
    assert second.metrics_url is not None
    other = stack_gateway(replicated.paths, second.metrics_url.removesuffix("/metrics"))
    assert sorted(c.name for c in replicated.gateway.clusters().items) == sorted(c.name for c in other.clusters().items)


def test_killing_both_leaders_mid_create_still_ends_healthy(replicated: LocalStack) -> None:
    wait_until(lambda: None not in (leader(replicated, s) for s in Elected), "a leader of each service", timeout=30)
    killed = {service: leader(replicated, service) for service in Elected}
    assert {"scheduler", "scheduler-2"} >= {killed[Elected.SCHEDULER]}
    assert {"federation", "federation-2"} >= {killed[Elected.ORCHESTRATOR]}
    for service, process in killed.items():
        assert process is not None and 1 == leader_gauge(replicated, process, service)

    apply(replicated, NAME, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}}}")
    replicated.kill(str(killed[Elected.SCHEDULER]))  # before or while it places the instance
    wait_until(lambda: bool(replicated.status(NAME).get("result")), "the instance's first status", timeout=90)
    assert "Health" != replicated.status(NAME).get("state")  # mid-create: placed, members being made
    replicated.kill(str(killed[Elected.ORCHESTRATOR]))

    status = wait_settled(replicated, NAME, timeout=180)
    ledger = Ledger(uri_for(status, NAME, PASSWORD))
    ledger.write()
    check(replicated, NAME, ledger)
    for service, process in killed.items():
        # The set may settle before a killed leader's lease runs out: the other replica takes it then.
        wait_until(lambda s=service, p=process: leader(replicated, s) not in (None, p), f"{service} taken over", 60)
        survivor = leader(replicated, service)
        assert 1 == leader_gauge(replicated, str(survivor), service)
