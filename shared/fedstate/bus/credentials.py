"""The bus users' keys and the nats-server authorization made from the permission template (``identities``).

Each user authenticates with an NKey (ed25519): its seed stays in a file only that user's process reads
(``<user>.nk``, mode 0600), and the server holds only public keys, so its configuration is no secret.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys

from .access import seed_path
from .identities import Identity, permissions


@dataclass(frozen=True)
class TlsFiles:
    """A certificate and its key, and the authority whose certificates the other side must present."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def ensure_seed(directory: Path, identity: Identity) -> str:
    """The user's public key; its seed is created (random, mode 0600) unless the directory holds it already."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = seed_path(directory, identity)
    if not path.exists():
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(seed + b"\n")
    return public_key(path)


def public_key(seed_file: Path) -> str:
    key_pair = nkeys.from_seed(bytearray(seed_file.read_bytes().strip()))
    try:
        return bytes(key_pair.public_key).decode()
    finally:
        key_pair.wipe()


def user_entry(identity: Identity, nkey: str) -> dict[str, Any]:
    """One ``authorization.users`` entry of nats-server's configuration."""
    granted = permissions(identity)
    entry_permissions: dict[str, Any] = {
        "publish": {"allow": list(granted.publish)},
        "subscribe": {"allow": list(granted.subscribe)},
    }
    if granted.allow_responses:
        entry_permissions["allow_responses"] = True
    return {"nkey": nkey, "permissions": entry_permissions}


def server_config(users: dict[Identity, str], tls: TlsFiles | None = None) -> str:
    """The users (and TLS) of a nats-server configuration, in JSON, which its parser reads; JetStream, the address
    and the store come from flags or from a file that includes this one.

    ``users`` maps each identity to its public key. With ``tls``, clients must connect with TLS and present a
    certificate signed by ``tls.ca_file``.
    """
    config: dict[str, Any] = {
        "authorization": {"users": [user_entry(identity, nkey) for identity, nkey in users.items()]},
    }
    if tls is not None:
        config["tls"] = {
            "cert_file": str(tls.cert_file),
            "key_file": str(tls.key_file),
            "ca_file": str(tls.ca_file),
            "verify": True,
        }
    return json.dumps(config, indent=2)


def write_server_config(
    path: Path, credentials: Path, identities: Iterable[Identity], tls: TlsFiles | None = None
) -> None:
    """Create every identity's seed in ``credentials`` (unless there) and the server's configuration at ``path``."""
    users = {identity: ensure_seed(credentials, identity) for identity in identities}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(server_config(users, tls))
