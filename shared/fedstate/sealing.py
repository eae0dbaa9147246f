"""Secrets sealed with an authenticated box (docs/decisions/0014-sealed-credentials.md).

Every key pair is X25519 (PyNaCl ``PrivateKey``). The federation seals a cluster's credentials with
``Box(federation key, cluster's public key)``: only that cluster's agent (and the federation) can open them,
and opening proves the federation sealed them. ``Box`` takes no associated data, so the binding — the tenant,
cluster, instance and revision the secret is for — is sealed inside with the payload and compared on opening:
a box copied into another instance's or cluster's record, or into a later revision, is refused.

The federation keeps its own secrets (generated passwords, keyFiles, user-supplied passwords) sealed to
itself, ``Box(federation key, federation public key)``, so a restarted orchestrator reads the same values.

A key file holds one base64 private key per line, the current one first; the lines after it are earlier keys,
kept only to open what was sealed to them until everything is sealed again (the rotation procedure,
docs/security.md). Next to the federation's, ``<name>.pub`` holds the ring's public keys: what every agent is
given to pin (``PinnedKeys``), so a box sealed by any other key — a bus user that can write a cluster's specs
but holds no federation key — is refused.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import Box, PrivateKey, PublicKey

from fedstate.bus.objects import StoredObject
from fedstate.models.dataplane import Credentials, DataPlaneSpec
from fedstate.models.multicloud import RegistryCredentials
from fedstate.models.redaction import REDACTED, replace_secrets
from fedstate.models.sealed import Sealed

# The prefix of a user-supplied secret stored sealed in a spec field that holds a string (``auth.rootPasswd``).
SEALED_PREFIX = "sealed:"


class SealingError(Exception):
    """A box that cannot be opened here: sealed to a key this ring lacks, tampered with, or bound elsewhere."""


class NotSealedYet(SealingError):
    """An object whose secrets the federation has not sealed to this cluster yet: it does once it has read the
    cluster's key (from its agent's lease), and that write brings the object back. A wait, not a refusal."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def public_key_text(key: PrivateKey) -> str:
    return _b64(bytes(key.public_key))


def fingerprint(public_key: str) -> str:
    """``SHA256:`` and the first 16 bytes, hex, of the SHA-256 of the raw public key: short enough to compare."""
    return "SHA256:" + hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:32]


@dataclass(frozen=True)
class KeyRing:
    """A party's private keys: the current one (sealing, publishing) and earlier ones (opening only)."""

    keys: tuple[PrivateKey, ...]

    @property
    def current(self) -> PrivateKey:
        return self.keys[0]

    @property
    def public_key(self) -> str:
        return public_key_text(self.current)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    @property
    def public_keys(self) -> tuple[str, ...]:
        """Every key's public half, the current one first: what the parties that trust this ring pin."""
        return tuple(public_key_text(k) for k in self.keys)

    def holding(self, public_key: str) -> PrivateKey | None:
        """The private key of ``public_key``, if it is one of this ring's."""
        return next((k for k in self.keys if public_key_text(k) == public_key), None)

    @classmethod
    def generate(cls) -> KeyRing:
        return cls((PrivateKey.generate(),))

    @classmethod
    def read(cls, path: Path) -> KeyRing:
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if not lines:
            raise SealingError(f"{path} holds no key")
        return cls(tuple(PrivateKey(base64.b64decode(line)) for line in lines))

    def write(self, path: Path) -> None:
        """Replace the key file at once (mode 0600), so a reader sees the old ring or the new one, never half."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.unlink(missing_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.writelines(_b64(bytes(key)) + "\n" for key in self.keys)
        partial.replace(path)

    def rotated(self) -> KeyRing:
        """A new current key; the earlier ones kept for opening."""
        return KeyRing((PrivateKey.generate(), *self.keys))

    def without_earlier_keys(self) -> KeyRing:
        return KeyRing(self.keys[:1])


def ensure_key_file(path: Path) -> KeyRing:
    """The ring in ``path``, created (one random key, mode 0600) when there is none."""
    if not path.exists():
        KeyRing.generate().write(path)
    return KeyRing.read(path)


def public_keys_file(key_file: Path) -> Path:
    """Where a ring's public keys are published, next to it: ``federation.key`` → ``federation.pub``."""
    return key_file.with_suffix(".pub")


def write_public_keys(ring: KeyRing, key_file: Path) -> Path:
    """The ring's public keys (one base64 key per line, current first) in ``<name>.pub``, replaced at once."""
    path = public_keys_file(key_file)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text("".join(key + "\n" for key in ring.public_keys))
    partial.replace(path)
    return path


class PinnedKeys:
    """The federation's public keys an agent was given (``FEDSTATE_FEDERATION_PUBLIC_KEY_FILE``): the only senders
    whose boxes it opens. Read again whenever the file changes, so a rotation reaches a running agent (the
    new key is added before the federation uses it, the earlier one dropped after: docs/security.md)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._read_at: int | None = None
        self._keys: frozenset[str] = frozenset()
        self.keys()  # refused at once when there is nothing to pin

    def keys(self) -> frozenset[str]:
        try:
            changed_at = self.path.stat().st_mtime_ns
            if changed_at != self._read_at:
                keys = frozenset(line.strip() for line in self.path.read_text().splitlines() if line.strip())
                for key in keys:
                    PublicKey(base64.b64decode(key, validate=True))
                self._keys, self._read_at = keys, changed_at
        except (OSError, ValueError, CryptoError) as exc:
            raise SealingError(f"cannot read the federation's public keys in {self.path}: {exc}") from exc
        if not self._keys:
            raise SealingError(f"{self.path} holds no federation public key")
        return self._keys


@functools.lru_cache(maxsize=4096)
def _box(mine: PrivateKey, peer: str) -> Box:
    """The box of a key pair, its X25519 agreement done once: a steady orchestrator opens a box per spec and pass."""
    return Box(mine, PublicKey(base64.b64decode(peer)))


def seal(ring: KeyRing, recipient: str, binding: str, payload: Any) -> Sealed:
    """``payload`` (JSON-able) sealed with this ring's current key to ``recipient``, bound to ``binding``."""
    plaintext = json.dumps({"binding": binding, "payload": payload}, sort_keys=True).encode()
    return Sealed(
        sender=ring.public_key, recipient=recipient, box=_b64(_box(ring.current, recipient).encrypt(plaintext))
    )


def open_sealed(ring: KeyRing, sealed: Sealed, binding: str, senders: Iterable[str] | None = None) -> Any:
    """The payload of a box this ring can open (as its recipient, or as its sender), if bound to ``binding``.

    ``senders``: the only sealers trusted, when the opener knows them (None: any, for a ring that sealed it).
    """
    if senders is not None and sealed.sender not in set(senders):
        raise SealingError(f"sealed by {fingerprint(sealed.sender)}, which is not trusted here")
    if (mine := ring.holding(sealed.recipient)) is not None:
        peer = sealed.sender
    elif (mine := ring.holding(sealed.sender)) is not None:
        peer = sealed.recipient
    else:
        raise SealingError(f"sealed to {fingerprint(sealed.recipient)}, whose key this ring does not hold")
    try:
        plaintext = _box(mine, peer).decrypt(base64.b64decode(sealed.box))
    except (CryptoError, ValueError) as exc:
        raise SealingError("the box does not open: tampered with, or not sealed by its sender") from exc
    document = json.loads(plaintext)
    if document.get("binding") != binding:
        raise SealingError(f"sealed for {document.get('binding')!r}, not for {binding!r}")
    return document["payload"]


def _as_text(box: Sealed) -> str:
    return SEALED_PREFIX + _b64(json.dumps(box.to_wire(), separators=(",", ":")).encode())


def seal_text(ring: KeyRing, binding: str, text: str) -> str:
    """A string field's value sealed to this ring itself, still a string: ``sealed:<base64 JSON box>``."""
    return _as_text(seal(ring, ring.public_key, binding, text))


def is_sealed_text(value: str | None) -> bool:
    return value is not None and value.startswith(SEALED_PREFIX)


def box_of_text(value: str) -> Sealed:
    """The box of a sealed string field (``seal_text``)."""
    return Sealed.model_validate(json.loads(base64.b64decode(value.removeprefix(SEALED_PREFIX))))


def open_text(ring: KeyRing, binding: str, value: str) -> str:
    """A string field's clear value: opened when sealed (``seal_text``), else as it is."""
    if not is_sealed_text(value):
        return value
    return str(open_sealed(ring, box_of_text(value), binding))


def open_dataplane_spec(
    ring: KeyRing, spec: DataPlaneSpec, cluster: str, senders: Iterable[str] | None = None
) -> DataPlaneSpec:
    """The agent's side: ``spec`` with the credentials sealed to this cluster opened (``SealingError`` if they
    cannot be: sealed by none of ``senders``, not for this cluster, instance, generation or revision, or sealed
    to a key the ring lacks)."""
    if spec.sealed is None:
        raise SealingError(f"the spec of {spec.instance.name} carries no sealed credentials")
    payload = open_sealed(ring, spec.sealed, spec.sealing_binding(cluster), senders)
    registry = payload.get("registryCredentials")
    return spec.model_copy(
        update={
            "credentials": Credentials.model_validate(payload["credentials"]),
            "registry_credentials": RegistryCredentials.model_validate(registry) if registry else None,
        }
    )


def secret_fields(obj: StoredObject) -> dict[str, str]:
    """The secret fields of ``obj``'s spec that hold a value, by dotted wire path (``imagePullSecret.password``)."""
    found: dict[str, str] = {}

    def note(path: tuple[str, ...], value: str) -> str:
        found[".".join(path)] = value
        return value

    replace_secrets(obj.kind, obj.spec, note)
    return found


def open_object(ring: KeyRing, obj: StoredObject, cluster: str, senders: Iterable[str]) -> StoredObject:
    """The agent's side of a single-cluster ``MongoDB`` in ``fs-spec``: every secret field of its spec replaced by
    the value the federation sealed to this cluster (``obj.sealed``), never taken from the spec itself, which
    holds it sealed to the federation. ``NotSealedYet`` while it has no box; ``SealingError`` when a field has no
    value in it, or the box is not from one of ``senders``, not for this tenant, instance, cluster and generation,
    or not to this ring's key."""
    fields = secret_fields(obj)
    if not fields:
        return obj
    if obj.sealed is None:
        raise NotSealedYet(f"{obj.key} carries no secret sealed to cluster {cluster} yet")
    opened = open_sealed(ring, obj.sealed, obj.cluster_binding(cluster), senders)
    missing = set(fields) - set(opened) if isinstance(opened, dict) else set(fields)
    if missing:
        raise SealingError(f"the box of {obj.key} lacks {', '.join(sorted(missing))}")
    spec = replace_secrets(obj.kind, obj.spec, lambda path, _value: str(opened[".".join(path)]))
    return obj.model_copy(update={"spec": spec, "sealed": None})


# Intake requests: a secret field travels sealed to the federation's current public key (docs/bus-contract.md).


class SecretNotSealed(SealingError):
    """A secret field of an intake request that is in clear, or sealed so that the federation cannot open it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def current_public_key(public_keys_file: Path) -> str:
    """The first key of ``federation.pub``: the federation's current one, what a submitter seals to."""
    try:
        return next(line.strip() for line in public_keys_file.read_text().splitlines() if line.strip())
    except (OSError, StopIteration) as exc:
        raise SealingError(f"no federation public key in {public_keys_file}") from exc


def _spec_field(path: tuple[str, ...]) -> str:
    return ".".join(("spec", *path))


def intake_binding(tenant: str, obj: dict[str, Any], path: tuple[str, ...]) -> str:
    """What a secret sealed in an intake request is for: the tenant, kind, namespace and name of the object it
    travels in and its field, so that copied into another object's request, or another field, it does not open."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    namespace = metadata.get("namespace") or "default"
    return f"intake:{tenant}/{obj.get('kind')}/{namespace}/{metadata.get('name')}/{_spec_field(path)}"


def _request_secrets(obj: dict[str, Any], change: Callable[[tuple[str, ...], str], str]) -> dict[str, Any]:
    """``obj`` with ``change(path, value)`` in each secret field holding a value, the marker ``<redacted>`` (which
    keeps the stored value) left as it is."""
    kind, spec = obj.get("kind"), obj.get("spec")
    if not isinstance(kind, str) or not isinstance(spec, dict):
        return obj
    changed = replace_secrets(kind, spec, lambda path, value: value if value == REDACTED else change(path, value))
    return obj if changed is spec else {**obj, "spec": changed}


def seal_request_secrets(federation_public_keys: Path | None, tenant: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The submitter's side: ``obj`` with each secret field in clear sealed to the federation's current key (the
    first of ``federation.pub``, read when there is a secret) by a key made for this request alone: what the
    federation checks is the binding, not the sealer, since any bus user allowed on the tenant's intake may submit.
    ``SecretNotSealed`` when there is a secret and no key to seal it to."""
    sender: KeyRing | None = None

    def sealed(path: tuple[str, ...], value: str) -> str:
        nonlocal sender
        if is_sealed_text(value):
            return value
        try:
            if federation_public_keys is None:
                raise SealingError("no federation public key was given (FEDSTATE_FEDERATION_PUBLIC_KEY_FILE)")
            recipient = current_public_key(federation_public_keys)
        except SealingError as exc:
            raise SecretNotSealed(
                _spec_field(path), f"a secret goes on the bus sealed to the federation's public key: {exc}"
            ) from None
        sender = sender or KeyRing.generate()
        return _as_text(seal(sender, recipient, intake_binding(tenant, obj, path), value))

    return _request_secrets(obj, sealed)


def open_request_secrets(ring: KeyRing, tenant: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The federation's side: ``obj`` with each sealed secret field opened; ``SecretNotSealed`` naming the field when
    one is in clear, or sealed for another object or field, or to a key this ring lacks."""

    def opened(path: tuple[str, ...], value: str) -> str:
        field = _spec_field(path)
        if not is_sealed_text(value):
            raise SecretNotSealed(
                field, "a secret must be sealed to the federation's public key (federation.pub), never sent in clear"
            )
        try:
            box = box_of_text(value)
            if ring.holding(box.recipient) is None:
                raise SealingError(f"sealed to {fingerprint(box.recipient)}, not to the federation's key")
            return str(open_sealed(ring, box, intake_binding(tenant, obj, path)))
        except (SealingError, ValueError) as exc:
            raise SecretNotSealed(field, f"the sealed value does not open here: {exc}") from None

    return _request_secrets(obj, opened)
