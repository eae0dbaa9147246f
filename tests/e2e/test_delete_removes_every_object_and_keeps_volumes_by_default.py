"""Delete (issue 5, item 3): every object in every cluster goes, the status disappears, data volumes are
kept unless the spec says Delete, and the same name applied again is a fresh set on fresh volumes,
unless it asks to adopt the kept ones (storage.adoptRetainedVolumes)."""

from __future__ import annotations

from fedstate.cli.localstack import LocalStack

from .invariants import (
    Ledger,
    apply,
    auth_secrets,
    check,
    claims_in_use,
    created,
    objects_of,
    uri_for,
    wait_gone,
    wait_settled,
)

NAME = "deleto"
PASSWORD = "delete-pass"


def claims_named(stack: LocalStack, name: str) -> set[str]:
    return {c for kinds in objects_of(stack, name).values() for c in kinds.get("persistent_volume_claim", set())}


def root_password(stack: LocalStack, name: str) -> str:
    (password,) = {secret["root-password"] for secret in auth_secrets(stack, name).values()}
    return password


def test_delete_keeps_volumes_and_a_new_set_of_the_same_name_starts_empty(stack: LocalStack) -> None:
    _, first = created(stack, NAME, f"{{replicaset: 3, auth: {{rootPasswd: {PASSWORD}}}}}", PASSWORD)

    stack.cli("delete", "mcm", NAME)
    wait_gone(stack, NAME)
    retained = claims_named(stack, NAME)
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
    assert retained < claims_named(stack, NAME)

    stack.cli("delete", "mcm", NAME)
    wait_gone(stack, NAME)
    assert retained == claims_named(stack, NAME), "Delete removes the new volumes and leaves the old ones alone"


ADOPTER = "adopto"


def test_a_new_set_of_the_same_name_adopts_the_kept_volumes_when_asked(stack: LocalStack) -> None:
    """Deleted with its volumes kept, then applied again with storage.adoptRetainedVolumes: the members
    mount the old volumes, the set comes back with every acknowledged write and the old users (here a
    generated root password as well: the credentials follow the data), and no new data volume is made."""
    apply(stack, ADOPTER, "{replicaset: 3}")
    status = wait_settled(stack, ADOPTER)
    generated = root_password(stack, ADOPTER)
    before = Ledger(uri_for(status, ADOPTER, generated))
    before.write()
    before.write()
    check(stack, ADOPTER, before)
    hosts_before = set(status["externalAddr"].split(","))

    stack.cli("delete", "mcm", ADOPTER)
    wait_gone(stack, ADOPTER)
    kept = claims_named(stack, ADOPTER)
    assert 3 == len(kept)

    apply(stack, ADOPTER, "{replicaset: 3, storage: {adoptRetainedVolumes: true}}")
    status = wait_settled(stack, ADOPTER)
    assert generated == root_password(stack, ADOPTER), "the adopted data holds the old users"
    after = Ledger(uri_for(status, ADOPTER, generated), markers=list(before.markers))
    assert [] == after.missing(), "an acknowledged write did not come back with its volume"
    after.write()
    check(stack, ADOPTER, after)
    assert kept == claims_named(stack, ADOPTER) == claims_in_use(stack, ADOPTER), "a member did not adopt"
    if hosts_before != set(status["externalAddr"].split(",")):
        reasons = {e.reason for e in stack.gateway.events("default", ADOPTER).items}
        assert "ReplicaSetForceReconfigured" in reasons, "new addresses need a force"

    # Spent: the same name deleted and applied again with the flag adopts these volumes, not older ones.
    stack.cli("delete", "mcm", ADOPTER)
    wait_gone(stack, ADOPTER)
    assert kept == claims_named(stack, ADOPTER)
