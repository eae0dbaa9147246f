"""A NATS cluster (issue 12, item 2; decision 0016): with ``fedstate up --nats-cluster 3`` every bucket and stream
is on three servers, and losing one of them — the JetStream meta-leader, or the leader of the stream a service is
writing to — in the middle of a create and of a scale (SIGKILL, no goodbye) costs no work: the two others carry on,
every service moves to one of them, the operation in flight completes with every acknowledged majority write kept,
and the server, started again, catches up until every copy of every stream is the same."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fedstate.bus.names import Bucket, kv_stream
from fedstate.cli.localstack import LocalStack
from fedstate.natsserver import jetstream_report, wait_for_jetstream

from .invariants import Ledger, apply, check, replica_set, uri_for, wait_settled, wait_until
from .state_log import running
from .test_a_nats_restart_mid_create_and_mid_scale_converges import services_dead

PASSWORD = "leader-pass"
SERVERS = 3

Victim = Callable[[LocalStack], str]


def meta_leader(stack: LocalStack) -> str:
    return stack.meta_leader()


def leader_of(bucket: Bucket) -> Victim:
    def leader(stack: LocalStack) -> str:
        return stack.stream_leader(kv_stream(bucket))

    leader.__name__ = f"leader_of_{bucket.name.lower()}"
    return leader


@pytest.fixture(scope="module")
def clustered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running(tmp_path_factory.mktemp("clustered"), nats_cluster=SERVERS) as local:
        yield local


def copies(stack: LocalStack) -> dict[str, set[tuple[int, int]]]:
    """Each stream → the (messages, last sequence) of every server's own copy of it."""
    held: dict[str, set[tuple[int, int]]] = {}
    for peer in stack.nats_peers():
        report = jetstream_report(peer, accounts="true", streams="true")
        for account in report.get("account_details", []):
            for detail in account.get("stream_detail") or []:
                state = detail["state"]
                held.setdefault(detail["name"], set()).add((state["messages"], state["last_seq"]))
    return held


def every_copy_is_the_same(stack: LocalStack) -> bool:
    return all(1 == len(states) for states in copies(stack).values())


def lose_and_bring_back(stack: LocalStack, victim: Victim, name: str) -> None:
    """Kill the server ``victim`` names while ``name`` is being worked on; once it settled on the two others,
    start the server again and wait until it holds what it missed and is back in every stream's group.

    Its copies matching is not enough before the next loss: until its ``/healthz`` answers, it may not vote in a
    group it has not caught up on, and losing another server then leaves that stream without a leader, as losing
    two of three would (a run that went on at once had the scheduler's watch of specs stall for minutes, with two servers up)."""
    lost = victim(stack)
    stack.kill(lost)
    wait_settled(stack, name, timeout=240)
    stack.restart(lost)
    wait_until(lambda: every_copy_is_the_same(stack), f"{lost}'s copies to catch up", timeout=120)
    wait_for_jetstream(stack.nats_peers(), timeout=120)


@pytest.mark.parametrize(
    ("on_create", "on_scale"),
    [(meta_leader, meta_leader), (leader_of(Bucket.DATAPLANE), leader_of(Bucket.OBSERVED))],
    ids=["meta-leader", "stream-leaders"],
)
def test_a_lost_leader_costs_no_create_no_scale_and_no_write(
    clustered: LocalStack, on_create: Victim, on_scale: Victim
) -> None:
    name = f"led-{on_create.__name__.replace('_', '-')}"
    apply(clustered, name, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}}}")
    wait_until(lambda: bool(clustered.status(name).get("result")), "the instance's first status", timeout=60)
    assert "Health" != clustered.status(name).get("state")  # mid-create: placed, members being made
    lose_and_bring_back(clustered, on_create, name)
    ledger = Ledger(uri_for(clustered.status(name), name, PASSWORD))
    ledger.write()
    check(clustered, name, ledger)

    clustered.cli("scale", "mcm", name, "--replicas", "5")
    rs_config = replica_set(ledger.uri)[1]
    assert sum(1 for m in rs_config["members"] if m.get("votes", 1)) < 5  # mid-scale: not every new member votes
    lose_and_bring_back(clustered, on_scale, name)
    ledger.write()
    rs_config = check(clustered, name, ledger)
    assert 5 == len(rs_config["members"])
    assert [] == services_dead(clustered), "a service died with a NATS server instead of moving to another"
