"""The federation's secrets, sealed (docs/decisions/0014-sealed-credentials.md).

- User-supplied passwords stay in ``fs-spec`` sealed to the federation's own key; intake seals them as it
  stores an object, the orchestrator opens them as it reads one. A single-cluster ``MongoDB``'s are read by its
  target cluster's agent, not by the federation: the object also carries them in one box sealed to that
  cluster's key (``sealed``), bound to tenant, instance, cluster and generation.
- An instance's credentials (random at its creation) travel in each ``DataPlaneSpec`` twice: ``sealed`` to the
  cluster's agent, bound to tenant, instance, cluster, generation and revision, and ``vault``, sealed to the
  federation itself, which a restarted orchestrator opens to carry on with the same values.

A box is sealed again only when what it holds, its binding or a key changes: its nonce is random, so sealing
the same secret twice gives two ciphertexts, and an unchanged spec must stay unchanged on the bus.
"""

from __future__ import annotations

from typing import Any

from fedstate.bus.objects import StoredObject
from fedstate.models.dataplane import Credentials, DataPlaneSpec, RetainedVolumes, vault_binding
from fedstate.models.redaction import replace_secrets
from fedstate.models.sealed import Sealed
from fedstate.sealing import (
    KeyRing,
    SealingError,
    box_of_text,
    is_sealed_text,
    open_sealed,
    open_text,
    seal,
    seal_text,
    secret_fields,
)

# The kinds whose secret fields the federation seals in fs-spec.
SEALED_KINDS = frozenset({"MultiCloudMongoDB", "MongoDB"})


def _spec_binding(obj: StoredObject) -> str:
    return f"spec:{obj.key.spec_key}"


class Vault:
    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    # fs-spec
    def sealed_object(self, obj: StoredObject) -> StoredObject:
        """``obj`` with every clear secret field sealed to the federation (as stored in fs-spec)."""
        if obj.kind not in SEALED_KINDS:
            return obj
        binding = _spec_binding(obj)
        spec = replace_secrets(
            obj.kind,
            obj.spec,
            lambda _path, value: value if is_sealed_text(value) else seal_text(self.ring, binding, value),
        )
        return obj if spec is obj.spec else obj.model_copy(update={"spec": spec})

    def opened_object(self, obj: StoredObject) -> StoredObject:
        """``obj`` with its sealed secret fields opened, without the cluster's box (what intake compares and the
        orchestrator reads)."""
        binding = _spec_binding(obj)
        spec = replace_secrets(obj.kind, obj.spec, lambda _path, value: open_text(self.ring, binding, value))
        if spec is obj.spec and obj.sealed is None:
            return obj
        return obj.model_copy(update={"spec": spec, "sealed": None})

    def with_cluster_box(
        self, stored: StoredObject, cluster_key: str | None, previous: Sealed | None = None
    ) -> StoredObject:
        """``stored`` (as in fs-spec) with a single-cluster object's secrets sealed to its target cluster's key,
        ``previous`` (by default its own box) kept while it holds the same for the same binding; no box while the
        cluster has published no key (its agent waits), nor for an object without secrets."""
        cluster = stored.target_cluster
        secrets = secret_fields(self.opened_object(stored)) if stored.kind == "MongoDB" else {}
        box = None
        if cluster and secrets and cluster_key:
            binding = stored.cluster_binding(cluster)
            box = previous if previous is not None else stored.sealed
            if not self._holds(box, cluster_key, binding, secrets):
                box = seal(self.ring, cluster_key, binding, secrets)
        return stored if box == stored.sealed else stored.model_copy(update={"sealed": box})

    def resealed_object(self, obj: StoredObject) -> StoredObject | None:
        """``obj`` sealed again with the current key, when an earlier key sealed one of its secrets (a rotation);
        None when all are current."""
        stale: list[tuple[str, ...]] = []

        def note(path: tuple[str, ...], value: str) -> str:
            if is_sealed_text(value) and not self._current(box_of_text(value)):
                stale.append(path)
            return value

        replace_secrets(obj.kind, obj.spec, note)
        return self.sealed_object(self.opened_object(obj)) if stale else None

    def resealed_retained(self, retained: RetainedVolumes) -> RetainedVolumes | None:
        """``retained`` with its credentials sealed again with the current key, or None when they are."""
        if self._current(retained.vault):
            return None
        held = self.held(retained)
        assert held is not None
        vault = seal(self.ring, self.ring.public_key, self._vault_binding(retained), held.to_wire())
        return retained.model_copy(update={"vault": vault})

    def _current(self, box: Sealed) -> bool:
        return box.sender == self.ring.public_key and box.recipient == self.ring.public_key

    # fs-dataplane and fs-retained
    def _vault_binding(self, spec: DataPlaneSpec | RetainedVolumes) -> str:
        i = spec.instance
        return vault_binding(i.tenant, i.namespace, i.name, spec.volume_uid or i.uid)

    def held(self, spec: DataPlaneSpec | RetainedVolumes) -> Credentials | None:
        """The credentials the federation sealed to itself in ``spec``; ``SealingError`` when they cannot be
        opened (the federation's key was replaced without its earlier key kept in the ring)."""
        if spec.vault is None:
            return None
        return Credentials.model_validate(open_sealed(self.ring, spec.vault, self._vault_binding(spec)))

    def held_by_instance(self, specs: list[DataPlaneSpec], adopting: RetainedVolumes | None) -> Credentials | None:
        """What the instance's data holds: from any cluster's spec, or the volumes it adopts (None: a new
        instance). A cluster new to the instance still learns the root password being rotated away from."""
        for spec in specs:
            if (held := self.held(spec)) is not None:
                return held
        return self.held(adopting) if adopting is not None else None

    def sealed_spec(
        self, desired: DataPlaneSpec, cluster: str, cluster_key: str, previous: DataPlaneSpec | None
    ) -> DataPlaneSpec:
        """``desired`` as it goes on the bus: its credentials sealed to the cluster's key and to the federation,
        the boxes of ``previous`` kept while what they hold, their binding and both keys are unchanged."""
        credentials = desired.unsealed()
        registry = desired.registry_credentials
        for_agent = {
            "credentials": credentials.to_wire(),
            "registryCredentials": registry.to_wire() if registry else None,
        }
        binding = desired.sealing_binding(cluster)
        sealed = previous.sealed if previous is not None else None
        if not self._holds(sealed, cluster_key, binding, for_agent):
            sealed = seal(self.ring, cluster_key, binding, for_agent)
        vault = previous.vault if previous is not None else None
        vault_for = self._vault_binding(desired)
        if not self._holds(vault, self.ring.public_key, vault_for, credentials.to_wire()):
            vault = seal(self.ring, self.ring.public_key, vault_for, credentials.to_wire())
        return desired.model_copy(
            update={"credentials": None, "registry_credentials": None, "sealed": sealed, "vault": vault}
        )

    def retained_vault(self, some: DataPlaneSpec, volume_uid: str) -> Sealed:
        """The credentials of ``some`` (without a rotation in flight), for a later instance that adopts the data."""
        held = self.held(some)
        if held is None:
            raise SealingError(f"the spec of {some.instance.name} carries no sealed credentials")
        held = held.model_copy(update={"previous_root_password": None, "older_root_passwords": []})
        i = some.instance
        return seal(
            self.ring, self.ring.public_key, vault_binding(i.tenant, i.namespace, i.name, volume_uid), held.to_wire()
        )

    def _holds(self, box: Sealed | None, recipient: str, binding: str, payload: Any) -> bool:
        if box is None or box.sender != self.ring.public_key or box.recipient != recipient:
            return False
        try:
            return bool(open_sealed(self.ring, box, binding) == payload)
        except SealingError:
            return False
