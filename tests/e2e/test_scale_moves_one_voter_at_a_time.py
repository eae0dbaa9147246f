"""Scaling up and down (issue 5, item 1): members join as non-voters and are promoted one per reconfig,
leave one voter per reconfig, and every invariant holds after each step."""

from __future__ import annotations

from fedstate.cli.localstack import LocalStack

from .invariants import Ledger, apply, check, uri_for, wait_settled

NAME = "scaly"
PASSWORD = "scale-pass"


def voters(rs_config: dict[str, object]) -> int:
    return sum(1 for m in rs_config["members"] if m.get("votes", 1))  # type: ignore[attr-defined,union-attr]


def test_scale_three_to_five_to_nine_and_back_to_three(stack: LocalStack) -> None:
    """3 → 5 (fedstate scale) → 9 (past 7 voters) → 3, with the invariants checked after every step."""
    apply(stack, NAME, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}}}")
    status = wait_settled(stack, NAME)
    ledger = Ledger(uri_for(status, NAME, PASSWORD))
    ledger.write()
    assert 3 == voters(check(stack, NAME, ledger))

    stack.cli("scale", "mcm", NAME, "--replicas", "5")
    status = wait_settled(stack, NAME)
    assert 5 == voters(check(stack, NAME, ledger))
    ledger.write()
    events = [e.reason for e in stack.gateway.events("default", NAME).items]
    assert "Reconfiguring" in events

    stack.cli("scale", "mcm", NAME, "--replicas", "9")
    status = wait_settled(stack, NAME)
    rs_config = check(stack, NAME, ledger)
    assert (9, 7) == (len(rs_config["members"]), voters(rs_config))
    non_voting = [m for m in rs_config["members"] if not m.get("votes", 1)]
    assert all(0 == m["priority"] for m in non_voting)
    ledger.write()

    stack.cli("scale", "mcm", NAME, "--replicas", "3")
    status = wait_settled(stack, NAME)
    ledger.uri = uri_for(status, NAME, PASSWORD)
    rs_config = check(stack, NAME, ledger, retained_volumes=6)
    assert (3, 3) == (len(rs_config["members"]), voters(rs_config))
    assert [1, 1, 1] == [r["replicasetSpec"] for r in status["result"]]
    # Scales someone asked for are no fault: not one Warning event (StateSubHealth is told as Normal).
    told = stack.gateway.events("default", NAME).items
    assert [] == [f"{e.reason}: {e.message}" for e in told if e.type == "Warning"]
    assert any(e.reason == "StateSubHealth" for e in told)
