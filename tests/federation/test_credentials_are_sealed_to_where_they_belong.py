"""Issue 10, items 3 and 4: every credential a cluster gets is sealed to that cluster's key and bound to the
instance, cluster, generation and revision it is for; the federation keeps its own copy sealed to itself;
generated credentials are random; the keys live in 0600 files and rotate without losing what was sealed.
A single-cluster MongoDB's secrets too: sealed to the federation in its spec, and to its cluster beside it."""

from __future__ import annotations

import base64
import json
import stat
import uuid
from pathlib import Path

import pytest

from fedstate.bus.connection import Bus
from fedstate.bus.intake import IntakeRequest
from fedstate.bus.names import Bucket, InstanceKey, Kind, intake_subject
from fedstate.bus.objects import StoredObject
from fedstate.models.dataplane import Credentials, DataPlaneSpec, InstanceRef, RetainedVolumes
from fedstate.models.multicloud import MultiCloudMongoDB, RegistryCredentials
from fedstate.replset.lifecycle import ClusterPlan
from fedstate.sealing import (
    KeyRing,
    PinnedKeys,
    SealingError,
    ensure_key_file,
    open_dataplane_spec,
    open_object,
    write_public_keys,
)
from fedstate.settings import AgentSettings
from fedstate_federation.__main__ import federation_vault
from fedstate_federation.domain.dataplane import credentials_for, render
from fedstate_federation.intake import handle
from fedstate_federation.settings import FederationSettings
from fedstate_federation.vault import Vault
from tests.sealed_intake import sealed_payload
from tests.secret_fields import secret_paths, secret_value, spec_with_every_secret, value_at

KEY = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, "rs")
CREDS = Credentials.generate()
REGISTRY = RegistryCredentials(username="bot", password="registry-pass")


def mcm(root: str | None = None, generation: int = 1, uid: str = "uid-1", name: str = "rs") -> MultiCloudMongoDB:
    spec: dict[str, object] = {"replicaset": 3, "imageSetting": {"imagePullSecret": REGISTRY.to_wire()}}
    if root:
        spec["auth"] = {"rootPasswd": root}
    return MultiCloudMongoDB.model_validate(
        {"metadata": {"name": name, "namespace": "default", "uid": uid, "generation": generation}, "spec": spec}
    )


def desired(obj: MultiCloudMongoDB, credentials: Credentials = CREDS) -> DataPlaneSpec:
    key = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, obj.metadata.name)
    return render(key, obj, ClusterPlan("a", [], False, None), credentials, None)


def on_the_bus(spec: DataPlaneSpec) -> DataPlaneSpec:
    """What a reader of fs-dataplane gets."""
    return DataPlaneSpec.model_validate_json(spec.model_dump_json(by_alias=True))


FEDERATION = Vault(KeyRing.generate())
CLUSTER_A, CLUSTER_B = KeyRing.generate(), KeyRing.generate()


def sealed_for_a(obj: MultiCloudMongoDB, previous: DataPlaneSpec | None = None) -> DataPlaneSpec:
    return on_the_bus(FEDERATION.sealed_spec(desired(obj), "a", CLUSTER_A.public_key, previous))


def test_the_bus_carries_no_credential_in_clear_and_only_the_clusters_agent_opens_them() -> None:
    spec = sealed_for_a(mcm())
    wire = spec.model_dump_json(by_alias=True)
    for secret in (*CREDS.model_dump(exclude_none=True, exclude={"older_root_passwords"}).values(), REGISTRY.password):
        assert secret not in wire
    opened = open_dataplane_spec(CLUSTER_A, spec, "a")
    assert CREDS == opened.credentials and REGISTRY == opened.registry_credentials
    with pytest.raises(SealingError, match="whose key this ring does not hold"):
        open_dataplane_spec(CLUSTER_B, spec, "b")


@pytest.mark.parametrize(
    "elsewhere",
    [
        pytest.param(lambda s: s.model_copy(update={"instance": InstanceRef(tenant="default", namespace="default", name="other", uid="uid-2")}), id="another instance"),
        pytest.param(lambda s: s.model_copy(update={"instance": s.instance.model_copy(update={"tenant": "acme"})}), id="another tenant"),
        pytest.param(lambda s: s.model_copy(update={"generation": s.generation + 1}), id="a later generation"),
        pytest.param(lambda s: s.model_copy(update={"revision": "rs-0000"}), id="another revision"),
    ],
)  # fmt: skip
def test_a_box_replayed_into_another_spec_is_refused(elsewhere: object) -> None:
    spec = sealed_for_a(mcm())
    assert callable(elsewhere)
    with pytest.raises(SealingError, match="sealed for"):
        open_dataplane_spec(CLUSTER_A, elsewhere(spec), "a")


def test_a_box_for_another_cluster_sharing_the_key_is_refused() -> None:
    """Even an agent serving two clusters with one ring opens a box only in the cluster it was sealed for."""
    with pytest.raises(SealingError, match="sealed for"):
        open_dataplane_spec(CLUSTER_A, sealed_for_a(mcm()), "b")


def test_a_tampered_box_does_not_open() -> None:
    spec = sealed_for_a(mcm())
    assert spec.sealed is not None
    box = bytearray(base64.b64decode(spec.sealed.box))
    box[-1] ^= 1
    tampered = spec.model_copy(
        update={"sealed": spec.sealed.model_copy(update={"box": base64.b64encode(box).decode()})}
    )
    with pytest.raises(SealingError, match="does not open"):
        open_dataplane_spec(CLUSTER_A, tampered, "a")


def test_an_unchanged_spec_keeps_its_boxes_and_a_change_seals_again() -> None:
    """Random nonces: sealing again each pass would rewrite every spec on every pass."""
    first = sealed_for_a(mcm())
    assert first == sealed_for_a(mcm(), previous=first)
    rotated = on_the_bus(
        FEDERATION.sealed_spec(
            desired(mcm(root="new"), credentials_for(mcm(root="new"), CREDS)), "a", CLUSTER_A.public_key, first
        )
    )
    assert rotated.sealed != first.sealed and rotated.vault != first.vault
    assert "new" == open_dataplane_spec(CLUSTER_A, rotated, "a").unsealed().root_password
    new_cluster_key = KeyRing.generate()
    moved = on_the_bus(FEDERATION.sealed_spec(desired(mcm()), "a", new_cluster_key.public_key, first))
    assert moved.sealed != first.sealed and moved.vault == first.vault
    assert CREDS == open_dataplane_spec(new_cluster_key, moved, "a").credentials


def test_a_restarted_federation_reads_the_same_credentials_and_another_key_reads_none(tmp_path: Path) -> None:
    path = tmp_path / "federation.key"
    vault = Vault(ensure_key_file(path))
    spec = on_the_bus(vault.sealed_spec(desired(mcm()), "a", CLUSTER_A.public_key, None))
    assert CREDS == Vault(KeyRing.read(path)).held(spec)
    assert CREDS == Vault(KeyRing.read(path)).held_by_instance([spec], None)
    with pytest.raises(SealingError):
        Vault(KeyRing.generate()).held(spec)


def retained_by(vault: Vault, spec: DataPlaneSpec) -> RetainedVolumes:
    """The record a delete with Retain leaves for ``spec``'s instance."""
    return RetainedVolumes.model_validate(
        {
            "instance": spec.instance.to_wire(),
            "volumeUid": "uid-1",
            "replSetName": "rs",
            "members": {"a": [0]},
            "nextOrdinal": 1,
            "vault": vault.retained_vault(spec, "uid-1").to_wire(),
            "deletedAt": "2026-01-01T00:00:00Z",
        }
    )


def test_retained_volumes_keep_the_credentials_sealed_for_the_adopter() -> None:
    spec = sealed_for_a(mcm())
    retained = retained_by(FEDERATION, spec)
    assert CREDS.root_password not in retained.model_dump_json()
    assert CREDS == FEDERATION.held_by_instance([], retained)


def test_generated_credentials_are_random_not_derived() -> None:
    """The same uid twice gets two sets: nothing a reader of metadata.uid could compute."""
    first, second = Credentials.generate(), Credentials.generate()
    assert all(getattr(first, f) != getattr(second, f) for f in ("key_file", "root_password", "cluster_admin_password"))
    assert 4 == len({first.key_file, first.root_password, first.cluster_admin_password, first.cluster_monitor_password})
    assert 64 == len(first.key_file) and 24 == len(first.root_password)


def test_key_files_are_random_private_and_rotate_keeping_the_earlier_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "a.key"
    ring = ensure_key_file(path)
    assert 0o600 == stat.S_IMODE(path.stat().st_mode)
    assert ring == ensure_key_file(path), "an existing ring is kept"
    assert ring.public_key != ensure_key_file(tmp_path / "b.key").public_key
    spec = on_the_bus(FEDERATION.sealed_spec(desired(mcm()), "a", ring.public_key, None))
    rotated = ring.rotated()
    rotated.write(path)
    assert 0o600 == stat.S_IMODE(path.stat().st_mode)
    reread = KeyRing.read(path)
    assert reread.public_key != ring.public_key
    assert CREDS == open_dataplane_spec(reread, spec, "a").credentials, "the earlier key still opens"
    with pytest.raises(SealingError):
        open_dataplane_spec(reread.without_earlier_keys(), spec, "a")


def test_the_federation_refuses_to_start_without_its_key(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="FEDSTATE_FEDERATION_KEY_FILE"):
        federation_vault(FederationSettings())
    with pytest.raises(SystemExit, match="cannot read"):
        federation_vault(FederationSettings(federation_key_file=tmp_path / "missing.key"))
    with pytest.raises(SystemExit, match="FEDSTATE_SEALING_KEY_DIR"):
        AgentSettings(cluster="a").sealing_key_file()


def test_user_supplied_secrets_in_fs_spec_are_sealed_to_the_federation() -> None:
    obj = StoredObject.model_validate(
        {
            "apiVersion": "middleware.fedstate.io/v1alpha1",
            "kind": "MultiCloudMongoDB",
            "metadata": {"name": "rs", "namespace": "default"},
            "spec": {"auth": {"rootPasswd": "user-root"}, "imageSetting": {"imagePullSecret": REGISTRY.to_wire()}},
        }
    )
    sealed = FEDERATION.sealed_object(obj)
    assert "user-root" not in json.dumps(sealed.spec) and REGISTRY.password not in json.dumps(sealed.spec)
    assert FEDERATION.sealed_object(sealed) == sealed, "sealed once"
    assert obj == FEDERATION.opened_object(sealed)
    with pytest.raises(SealingError):
        Vault(KeyRing.generate()).opened_object(sealed)


async def test_intake_stores_every_user_secret_sealed_and_an_unchanged_apply_stays_unchanged(bus: Bus) -> None:
    """Through the real intake and NATS: no secret of the spec in the stored object, nor in the bucket's history
    of it; applying the same object again writes nothing (sealing again would make a new ciphertext)."""
    name = f"sealed-{uuid.uuid4().hex[:6]}"
    obj = {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec_with_every_secret("MultiCloudMongoDB"),
    }
    payload = sealed_payload(FEDERATION, IntakeRequest(op="apply", object=obj))
    assert "created" == (await handle(bus, payload, subject=intake_subject(), vault=FEDERATION)).outcome
    assert "unchanged" == (await handle(bus, payload, subject=intake_subject(), vault=FEDERATION)).outcome
    key = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, name).spec_key
    stored = await bus.spec.get(key)
    assert stored is not None
    kv = await bus.js.key_value(Bucket.SPEC)
    history = [entry.value for entry in await kv.history(key) if entry.value]
    assert 1 == len(history)
    for path in secret_paths("MultiCloudMongoDB"):
        assert secret_value(path).encode() not in history[0]
        assert secret_value(path) == value_at(FEDERATION.opened_object(stored.value).spec, path)


def test_after_a_rotation_of_the_federations_key_what_it_sealed_is_sealed_again() -> None:
    """The earlier key opens what it sealed; everything is sealed again with the new one, after which the
    earlier key can go."""
    before = Vault(KeyRing.generate())
    after = Vault(before.ring.rotated())
    stored = before.sealed_object(
        StoredObject.model_validate(
            {
                "apiVersion": "middleware.fedstate.io/v1alpha1",
                "kind": "MultiCloudMongoDB",
                "metadata": {"name": "rs", "namespace": "default"},
                "spec": {"auth": {"rootPasswd": "user-root"}},
            }
        )
    )
    assert before.resealed_object(stored) is None, "nothing to do while the key is current"
    resealed = after.resealed_object(stored)
    assert resealed is not None and after.resealed_object(resealed) is None
    alone = Vault(after.ring.without_earlier_keys())
    assert "user-root" == alone.opened_object(resealed).spec["auth"]["rootPasswd"]

    spec = on_the_bus(before.sealed_spec(desired(mcm()), "a", CLUSTER_A.public_key, None))
    moved = on_the_bus(after.sealed_spec(desired(mcm()), "a", CLUSTER_A.public_key, spec))
    assert CREDS == alone.held(moved) == open_dataplane_spec(CLUSTER_A, moved, "a").credentials

    retained = retained_by(before, spec)
    kept = after.resealed_retained(retained)
    assert kept is not None and after.resealed_retained(kept) is None
    assert CREDS == alone.held(kept)


def single_cluster(generation: int = 1, root: str = "user-root", uid: str = "uid-1") -> StoredObject:
    return StoredObject.model_validate(
        {
            "apiVersion": "middleware.fedstate.io/v1alpha1",
            "kind": "MongoDB",
            "metadata": {"name": "single", "namespace": "default", "uid": uid, "generation": generation},
            "spec": {"members": 1, "rootPassword": root, "imagePullSecret": REGISTRY.to_wire()},
            "targetCluster": "a",
        }
    )


def stored_for_a(obj: StoredObject, previous: StoredObject | None = None) -> StoredObject:
    """What intake stores in fs-spec once cluster ``a``'s agent published its key."""
    sealed = FEDERATION.with_cluster_box(
        FEDERATION.sealed_object(obj), CLUSTER_A.public_key, previous.sealed if previous else None
    )
    return StoredObject.model_validate_json(sealed.model_dump_json(by_alias=True))


PINNED = [FEDERATION.ring.public_key]


def test_a_single_cluster_mongodbs_secrets_are_sealed_to_the_federation_and_to_its_cluster_only() -> None:
    stored = stored_for_a(single_cluster())
    wire = stored.model_dump_json(by_alias=True)
    assert "user-root" not in wire and REGISTRY.password not in wire
    assert single_cluster() == FEDERATION.opened_object(stored)
    opened = open_object(CLUSTER_A, stored, "a", PINNED)
    assert ("user-root", REGISTRY.password) == (opened.spec["rootPassword"], opened.spec["imagePullSecret"]["password"])
    with pytest.raises(SealingError, match="whose key this ring does not hold"):
        open_object(CLUSTER_B, stored, "a", PINNED)
    with pytest.raises(SealingError, match="sealed for"):
        open_object(CLUSTER_A, stored, "b", PINNED)
    assert stored.sealed == stored_for_a(single_cluster(), previous=stored).sealed, "the same secrets keep their box"


def test_a_single_cluster_box_replayed_into_a_later_generation_or_another_object_is_refused() -> None:
    """An earlier root password cannot be replayed into the object's next generation, nor a box moved."""
    old = stored_for_a(single_cluster(generation=1, root="old-root"))
    new = stored_for_a(single_cluster(generation=2, root="new-root"))
    replayed = new.model_copy(update={"sealed": old.sealed})
    with pytest.raises(SealingError, match="sealed for"):
        open_object(CLUSTER_A, replayed, "a", PINNED)
    moved = stored_for_a(single_cluster(uid="uid-2")).model_copy(update={"sealed": old.sealed})
    with pytest.raises(SealingError, match="sealed for"):
        open_object(CLUSTER_A, moved, "a", PINNED)
    assert "new-root" == open_object(CLUSTER_A, new, "a", PINNED).spec["rootPassword"]


def test_a_single_cluster_object_waits_for_its_clusters_key_and_never_uses_its_spec_fields() -> None:
    """Before the agent published a key there is no box, and what the spec holds (sealed to the federation, or
    a value in clear that no federation sealed) is never taken as a password."""
    unsealed = FEDERATION.with_cluster_box(FEDERATION.sealed_object(single_cluster()), None)
    assert unsealed.sealed is None
    with pytest.raises(SealingError, match="no secret sealed to cluster a"):
        open_object(CLUSTER_A, unsealed, "a", PINNED)
    with pytest.raises(SealingError, match="no secret sealed to cluster a"):
        open_object(CLUSTER_A, single_cluster(), "a", PINNED)
    no_secret = single_cluster().model_copy(update={"spec": {"members": 1}})
    assert no_secret == open_object(CLUSTER_A, FEDERATION.with_cluster_box(no_secret, None), "a", PINNED)


def test_a_new_cluster_key_or_federation_key_seals_the_single_cluster_box_again() -> None:
    stored = stored_for_a(single_cluster())
    new_cluster_key = KeyRing.generate()
    moved = FEDERATION.with_cluster_box(stored, new_cluster_key.public_key)
    assert moved.sealed != stored.sealed
    assert "user-root" == open_object(new_cluster_key, moved, "a", PINNED).spec["rootPassword"]
    after = Vault(FEDERATION.ring.rotated())
    resealed = after.resealed_object(stored)
    assert resealed is not None
    again = after.with_cluster_box(resealed, CLUSTER_A.public_key, stored.sealed)
    assert again.sealed is not None and after.ring.public_key == again.sealed.sender
    assert "user-root" == open_object(CLUSTER_A, again, "a", [after.ring.public_key]).spec["rootPassword"]


def test_agents_pin_the_federations_public_keys_and_follow_their_file(tmp_path: Path) -> None:
    key_file = tmp_path / "federation.key"
    ring = ensure_key_file(key_file)
    pinned = PinnedKeys(write_public_keys(ring, key_file))
    assert frozenset({ring.public_key}) == pinned.keys()
    rotated = ring.rotated()
    write_public_keys(rotated, key_file)
    assert frozenset(rotated.public_keys) == pinned.keys(), "a rotation reaches a running agent"
    with pytest.raises(SealingError, match="cannot read"):
        PinnedKeys(tmp_path / "missing.pub")
    with pytest.raises(SystemExit, match="FEDSTATE_FEDERATION_PUBLIC_KEY_FILE"):
        AgentSettings(cluster="a").pinned_federation_keys_file()
