"""Delete (issue 5, item 3): every object in every cluster goes, the status disappears, data volumes are
kept unless the spec says Delete, and the same name applied again is a fresh set on fresh volumes."""

from __future__ import annotations

from fedstate.cli.localstack import LocalStack

from .invariants import Ledger, apply, check, objects_of, uri_for, wait_gone, wait_settled

NAME = "deleto"
PASSWORD = "delete-pass"


def claims(stack: LocalStack) -> set[str]:
    return {c for kinds in objects_of(stack, NAME).values() for c in kinds.get("persistent_volume_claim", set())}


def test_delete_keeps_volumes_and_a_new_set_of_the_same_name_starts_empty(stack: LocalStack) -> None:
    apply(stack, NAME, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}}}")
    status = wait_settled(stack, NAME)
    first = Ledger(uri_for(status, NAME, PASSWORD))
    first.write()
    check(stack, NAME, first)

    stack.cli("delete", "mcm", NAME)
    wait_gone(stack, NAME)
    retained = claims(stack)
    assert 3 == len(retained)
    assert {"persistent_volume_claim"} == {kind for kinds in objects_of(stack, NAME).values() for kind in kinds}

    # The same name again, this time asking for volumes to go with the members.
    apply(stack, NAME, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}, storage: {{retentionPolicy: Delete}}}}")
    status = wait_settled(stack, NAME)
    second = Ledger(uri_for(status, NAME, PASSWORD))
    second.write()
    check(stack, NAME, second, retained_volumes=3)
    second.markers += first.markers
    assert first.markers == second.missing(), "the new set attached an old volume"
    assert retained < claims(stack)

    stack.cli("delete", "mcm", NAME)
    wait_gone(stack, NAME)
    assert retained == claims(stack), "Delete removes the new volumes and leaves the old ones alone"
